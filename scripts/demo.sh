#!/usr/bin/env bash
# The main job on the embedded default (SQLite), from a bare Debian machine: installs what is
# missing, migrates the database, creates an install token and runs the backend, printing the URLs.
# Ctrl-C stops it. State lives in var/demo (LANET_DATA_DIR); PORT picks the port (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export LANET_DATA_DIR="${LANET_DATA_DIR:-$PWD/var/demo}"
port="${PORT:-8000}"
server=".venv/bin/lanet-server"

"$server" db upgrade
token="$("$server" tokens create --client "Cafe Mexico S.A. de C.V." --site "Oficina Principal CDMX" \
    --description "demo" | tail -n 1)"

cat <<INFO

  LANET backend on SQLite ($LANET_DATA_DIR/lanet.db)
  API:           http://127.0.0.1:$port/api
  API document:  http://127.0.0.1:$port/api/openapi.json
  Install token: $token

  Register a machine:
    curl -s -X POST http://127.0.0.1:$port/api/agents/register-with-token \\
      -H 'Content-Type: application/json' \\
      -d '{"token": "$token", "hardware_info": {"computer_name": "DESKTOP-001"}}'

INFO
exec "$server" serve --host 127.0.0.1 --port "$port"
