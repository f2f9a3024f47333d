#!/usr/bin/env bash
# Builds dist/lanet-agent_<version>_all.deb: the agent, its systemd unit and the tray's autostart entry,
# running on Debian's own python3 and python3-psutil. The agent's service needs nothing else: it
# validates with the compiled contract and encrypts with the system's libcrypto, so neither pydantic
# nor cryptography is packaged. The update worker's TUF client (tuf, securesystemslib, urllib3 2) is
# pure Python and packaged beside the agent; it verifies Ed25519 signatures without cryptography.
# The server is not part of this package.
#
# Usage: build-deb.sh [VERSION]  (default: the package's version). LANET_TRUSTED_ROOT names the
# release root the agent trusts (`lanet-server releases keygen` writes it). Wheels are cached in
# var/deb-build/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
version="${1:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/lanet/__init__.py)}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "build-deb: the version must be numeric (major.minor.patch), not '$version'" >&2
    exit 2
fi
out="$repo/dist"
cache="$repo/var/deb-build"
python="$repo/.venv/bin/python"
[ -x "$python" ] || python=python3
mapfile -t wheels < <(grep -Ev '^(#|$)' packaging/update-wheels.txt)
marker="$cache/wheels/.done-$(echo "${wheels[*]}" | sha256sum | cut -c1-12)"
if [ ! -f "$marker" ]; then
    mkdir -p "$cache/wheels"
    "$python" -m pip --disable-pip-version-check -q download --only-binary=:all: --no-deps \
        -d "$cache/wheels" "${wheels[@]}"
    touch "$marker"
fi
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
lib="$stage/usr/lib/lanet-agent"

mkdir -p "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/xdg/autostart" \
    "$stage/DEBIAN" "$stage/usr/share/doc/lanet-agent" "$out"
bash packaging/agent-modules.sh "$lib" linux-deb
sed -i "s/^__version__ = .*/__version__ = \"$version\"/" "$lib/lanet/__init__.py"
for wheel in "${wheels[@]}"; do
    file=$(ls "$cache/wheels/${wheel%%==*}-${wheel##*==}-"*.whl)
    "$python" -m zipfile -e "$file" "$lib"
done
rm -rf "$lib"/*.dist-info

cat >"$stage/usr/bin/lanet-agent" <<'SH'
#!/bin/sh
# LANET Agent, as packaged: Debian's python3 with the agent's modules from /usr/lib/lanet-agent.
PYTHONPATH=/usr/lib/lanet-agent${PYTHONPATH:+:$PYTHONPATH} exec /usr/bin/python3 -m lanet.agent.cli "$@"
SH
chmod 0755 "$stage/usr/bin/lanet-agent"
cp packaging/linux/lanet-agent.service "$stage/lib/systemd/system/"
cp packaging/linux/lanet-agent-tray.desktop "$stage/etc/xdg/autostart/"
cp packaging/linux/README.md "$stage/usr/share/doc/lanet-agent/README.md"

cat >"$stage/DEBIAN/control" <<CONTROL
Package: lanet-agent
Version: $version
Architecture: all
Maintainer: LANET <soporte@lanet.mx>
Section: admin
Priority: optional
Depends: python3 (>= 3.11), python3-psutil (>= 5.9)
Recommends: python3-tk, python3-pil, python3-pystray
Description: LANET Agent, the endpoint agent of LANET Helpdesk
 Registers the PC with an install token, sends heartbeats with metrics, alerts and logs, inventories
 hardware and software, runs the technicians' scripts and carries the users' tickets from the tray.
CONTROL
echo "/etc/xdg/autostart/lanet-agent-tray.desktop" >"$stage/DEBIAN/conffiles"

cat >"$stage/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable lanet-agent.service >/dev/null
    # Before `lanet-agent register` there is nothing to run; after an upgrade, restart.
    if [ -f /var/lib/lanet-agent/agent.db ]; then
        systemctl restart lanet-agent.service
    fi
fi
exit 0
SH
cat >"$stage/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl stop lanet-agent.service >/dev/null 2>&1 || true
    if [ "$1" = "remove" ]; then
        systemctl disable lanet-agent.service >/dev/null 2>&1 || true
    fi
fi
exit 0
SH
cat >"$stage/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
# Identity, queue and logs stay on remove (a reinstall resumes); purge deletes them.
if [ "$1" = "purge" ]; then
    rm -rf /etc/lanet-agent /var/lib/lanet-agent /var/log/lanet-agent
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
SH
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

package="$out/lanet-agent_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$package" >/dev/null
echo "$package"
