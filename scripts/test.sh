#!/usr/bin/env bash
# The whole test suite, from a bare Debian machine: installs what is missing, makes sure PostgreSQL
# runs, then lint, types, every test (SQLite and PostgreSQL) and the Windows lane (tests_windows/ in
# Windows Python under Wine). Extra arguments go to pytest and leave the Windows lane out: they ask
# for a slice of the suite, not all of it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
LANET_TEST_POSTGRES_URL="$(bash scripts/ensure-postgres.sh)"
export LANET_TEST_POSTGRES_URL

echo "== ruff"
.venv/bin/ruff check src tests tests_windows bench packaging
.venv/bin/ruff format --check src tests tests_windows bench packaging
echo "== mypy"
.venv/bin/mypy
echo "== import contracts"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest "$@"
if [ $# -eq 0 ]; then
    echo "== Windows lane (Wine)"
    bash packaging/windows/wine-lane.sh
fi
