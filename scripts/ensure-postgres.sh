#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a database `test`, installing and
# starting Debian's package when needed, and prints the URL the tests should use.
# Sourced by scripts/test.sh; it never skips: if PostgreSQL cannot be had, it fails.
set -euo pipefail

url="${LANET_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null || ! answers; then
    if ! command -v pg_ctlcluster >/dev/null; then
        echo "ensure-postgres: installing PostgreSQL from Debian" >&2
        [ "$(id -u)" -eq 0 ] || { echo "ensure-postgres: need root to install PostgreSQL" >&2; exit 1; }
        [ -n "${LANET_APT_UPDATED:-}" ] || apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    for _ in $(seq 1 30); do answers && break; sleep 1; done
    answers || { echo "ensure-postgres: PostgreSQL did not start" >&2; exit 1; }
fi

# A fresh Debian cluster asks for a password over TCP: give the postgres role one and use it.
if ! psql "${url/+psycopg/}" -c 'SELECT 1' >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
        runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'lanet-test'" >/dev/null
        runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
            || runuser -u postgres -- createdb test
        url="postgresql://postgres:lanet-test@127.0.0.1:5432/test"
    fi
    psql "$url" -c 'SELECT 1' >/dev/null || { echo "ensure-postgres: cannot connect to $url" >&2; exit 1; }
fi
echo "$url"
