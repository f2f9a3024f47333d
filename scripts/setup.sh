#!/usr/bin/env bash
# Installs everything the project needs on a Debian machine: the system packages (as root, through
# apt-get) and a virtual environment in .venv with the project and its development tools.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need the Debian packages: $*; run as root or install them first" >&2
        exit 1
    fi
    if [ -z "${LANET_APT_UPDATED:-}" ]; then
        apt-get update -qq
        export LANET_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v curl >/dev/null || missing+=(curl)
# lanet-server serve puts nginx in front of the application (slow clients, TLS, request limits);
# headers-more lets it drop the Server header. Only the binaries are used: serve runs its own nginx.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so ] || missing+=(libnginx-mod-http-headers-more-filter)
# The tray's windows are tested on a real X server; tkinter comes with Debian's python3-tk.
command -v Xvfb >/dev/null || missing+=(xvfb xauth)
python3 -c 'import tkinter' 2>/dev/null || missing+=(python3-tk)
# The .deb is installed and run on Debian's own Python stack in the tests.
dpkg -s python3-psutil >/dev/null 2>&1 || missing+=(python3-psutil)
# The portal is tested in a real browser: Debian's Chromium, driven by Playwright.
command -v chromium >/dev/null || missing+=(chromium)
# The Windows MSI is built here: launchers cross-compiled with mingw-w64, the package made by wixl.
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v wixl >/dev/null || missing+=(wixl)
command -v msibuild >/dev/null || missing+=(msitools)
# The patch tests run the agent's apt path in a throwaway Debian root, against a local repository.
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v dpkg-scanpackages >/dev/null || missing+=(dpkg-dev)
# ... and its dnf path against a local RPM repository: Debian's dnf, rpmbuild (in rpm) to build the
# packages, createrepo_c and modifyrepo_c (in createrepo-c) to index them and add advisories.
command -v dnf >/dev/null || missing+=(dnf)
command -v rpmbuild >/dev/null || missing+=(rpm)
command -v createrepo_c >/dev/null || missing+=(createrepo-c)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
    # Debian starts its own nginx (a default site on port 80) when the package is installed; the
    # project never uses that service, only the binary.
    if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null \
        && systemctl is-active --quiet nginx 2>/dev/null; then
        echo "setup: stopping and disabling Debian's default nginx service (lanet-server runs its own)"
        systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.lanet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
    touch "$stamp"
fi
