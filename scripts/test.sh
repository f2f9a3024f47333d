#!/usr/bin/env bash
# The whole test suite, from a bare Debian machine: installs what is missing, makes sure PostgreSQL
# runs, then lint, types and every test (SQLite and PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
LANET_TEST_POSTGRES_URL="$(bash scripts/ensure-postgres.sh)"
export LANET_TEST_POSTGRES_URL

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
