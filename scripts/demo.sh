#!/usr/bin/env bash
# The main job on the embedded default (SQLite), from a bare Debian machine: installs what is
# missing, migrates the database, creates an install token, starts the backend, then registers an
# agent on this machine and runs it, printing the asset id and the URLs. Ctrl-C stops both.
# State lives in var/demo (LANET_DATA_DIR); PORT picks the port (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export LANET_DATA_DIR="${LANET_DATA_DIR:-$PWD/var/demo}"
port="${PORT:-8000}"
api="http://127.0.0.1:$port/api"
server=".venv/bin/lanet-server"
agent=".venv/bin/lanet-agent"
agent_home="$LANET_DATA_DIR/agent"
client="Cafe Mexico S.A. de C.V."

mkdir -p "$LANET_DATA_DIR"
"$server" db upgrade
token="$("$server" tokens create --client "$client" --site "Oficina Principal CDMX" --description demo | tail -n 1)"
# A short interval so the demo's numbers move; real fleets keep the seed's 60 s. This machine is not
# Windows, so the demo client allows its shells for remote scripts instead of the seed's defaults.
"$server" config set --scope client --id "$client" heartbeat_interval 15 >/dev/null
"$server" config set --scope client --id "$client" allowed_scripts '["bash", "sh", "python"]' >/dev/null
# Portal users with fresh random passwords, printed below: the MSP's technician, and the customer's
# administrator who sees only this client. A later run gives them new passwords.
demo_user() {
    local email="$1" role="$2"; shift 2
    if "$server" users list | grep -q "^$email "; then
        "$server" users password --email "$email" --generate | tail -n 1
    else
        "$server" users create --email "$email" --role "$role" --generate "$@" | tail -n 1
    fi
}
tech_password="$(demo_user tecnico@lanet.demo technician)"
client_password="$(demo_user admin@cafemexico.demo client_admin --client "$client")"

"$server" serve --host 127.0.0.1 --port "$port" >"$LANET_DATA_DIR/server.log" 2>&1 &
server_pid=$!
agent_pid=""
cleanup() {
    trap - INT TERM EXIT
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null || true
    kill -TERM "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    echo "demo stopped"
}
trap cleanup INT TERM EXIT

for _ in $(seq 1 100); do
    curl -fsS "$api/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$LANET_DATA_DIR/server.log" >&2; exit 1; }
    sleep 0.2
done

# The demo's backend listens on loopback over plain http: the agent's development switch allows that
# (and warns at every start). Real installations use https with TLS 1.3.
"$agent" register --server "$api" --token "$token" --home "$agent_home" --allow-insecure-http
asset_id="$("$agent" status --home "$agent_home" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["asset_id"])')"

cat <<INFO

  LANET backend on SQLite: $LANET_DATA_DIR/lanet.db (log: $LANET_DATA_DIR/server.log)
  Portal:         http://127.0.0.1:$port/portal/
                  technician: tecnico@lanet.demo  $tech_password
                  customer:   admin@cafemexico.demo  $client_password
  API:            $api
  API document:   $api/openapi.json
  Install token:  $token
  This machine:   asset $asset_id, heartbeat every 15 s (agent home: $agent_home)

  Watch it:       LANET_DATA_DIR=$LANET_DATA_DIR $server assets list
  Run a script:   LANET_DATA_DIR=$LANET_DATA_DIR $server commands send --asset $asset_id --type bash --inline 'uptime'
                  then: LANET_DATA_DIR=$LANET_DATA_DIR $server commands show <printed id>
  Agent status:   $agent status --home $agent_home
  Ctrl-C stops the agent and the backend.

INFO
"$agent" run --home "$agent_home" &
agent_pid=$!
wait "$agent_pid" || true
