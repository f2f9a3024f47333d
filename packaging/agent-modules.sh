#!/usr/bin/env bash
# Copies the agent's Python modules into DEST (a site-packages or library folder) for a package:
# lanet/__init__, i18n, the agent, and only the plain modules of the protocol. The agent never
# reaches for the pydantic models or the server, so packages carry neither. Used by
# packaging/linux/build-deb.sh and packaging/windows/build-msi.sh.
set -euo pipefail
dest="$1"
src="$(dirname "$0")/../src/lanet"
mkdir -p "$dest/lanet/protocol"
cp "$src/__init__.py" "$src/i18n.py" "$dest/lanet/"
cp -r "$src/agent" "$dest/lanet/agent"
for module in __init__.py contract.py contract.json limits.py values.py config_keys.py errors.py; do
    cp "$src/protocol/$module" "$dest/lanet/protocol/"
done
find "$dest/lanet" -name __pycache__ -prune -exec rm -rf {} +
