#!/usr/bin/env bash
# Copies the agent's Python modules into DEST (a site-packages or library folder) for a package:
# lanet/__init__, i18n, the agent, and only the plain modules of the protocol. The agent never
# reaches for the pydantic models or the server, so packages carry neither. Used by
# packaging/linux/build-deb.sh and packaging/windows/build-msi.sh. LANET_TRUSTED_ROOT names the
# release root the package carries.
set -euo pipefail
dest="$1"
# The release platform the package is for (linux-deb, windows-x64): the agent updates itself from it.
platform="${2:?usage: agent-modules.sh DEST PLATFORM}"
src="$(dirname "$0")/../src/lanet"
mkdir -p "$dest/lanet/protocol"
cp "$src/__init__.py" "$src/i18n.py" "$dest/lanet/"
cp -r "$src/agent" "$dest/lanet/agent"
for module in __init__.py contract.py contract.json limits.py values.py versions.py config_keys.py errors.py \
    maintenance_window.py; do
    cp "$src/protocol/$module" "$dest/lanet/protocol/"
done
# The MSP's TUF root (from `lanet-server releases keygen`): without it the agent refuses every release.
if [ -n "${LANET_TRUSTED_ROOT:-}" ]; then
    cp "$LANET_TRUSTED_ROOT" "$dest/lanet/agent/update/trusted_root.json"
fi
printf '"""Written by the package build: the release platform this install updates from."""\n\nPLATFORM = "%s"\n' \
    "$platform" > "$dest/lanet/agent/_package.py"
find "$dest/lanet" -name __pycache__ -prune -exec rm -rf {} +
