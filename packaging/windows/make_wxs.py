"""Writes the WiX source of the LANET Agent MSI for Debian's ``wixl`` from a staged install tree.

Usage: ``python make_wxs.py STAGE VERSION OUT.wxs``. STAGE holds what goes under
``C:\\Program Files\\LANET Agent`` (``bin\\`` with the launchers, the Python runtime and the agent).

What the package does, in install order (deferred custom actions run as LocalSystem, after the
files are in place):

1. ``agent.exe register --server [SERVER] --token [TOKEN] --keep-token`` when a token is given:
   the agent's folders are created readable only by SYSTEM and Administrators before anything is
   written, the token goes to ``config\\token.txt`` (the seed's layout), then it registers. A
   refused token fails the install, which rolls back; the reason is in ``logs\\agent.log``.
   ``TOKEN`` is a hidden property: the MSI log does not show it. The backend must be ``https`` with
   TLS 1.3; ``ALLOW_INSECURE_HTTP=1`` (development and the Windows lane only) passes the agent's
   ``--allow-insecure-http`` switch instead.
2. ``agent.exe service install``: enforces those folder permissions, then installs (or updates) the
   ``LANETAgent`` service with its recovery actions and event-log source. Should the install fail
   after this, a rollback action removes the service again.
3. ``agent.exe service start``.

The tray starts at every user's login from ``HKLM\\...\\Run``. Uninstall stops and removes the
service and the program files; the agent's configuration, identity, data and logs stay unless
``REMOVEDATA=1`` is given. An upgrade (another version over the installed one) replaces the program
and keeps the registration: ``MajorUpgrade`` removes the old product first, then the new one
reinstalls the service over the same data. ``build-msi.sh`` makes that hold for an older version
too (the self-update's way back), and a PC the agent marked as registered installs again without
``SERVER`` and ``TOKEN`` (``LANET_REGISTERED``, from the registry).

wixl (0.101) supports custom actions only as ``FileKey`` + ``ExeCommand`` and has no
``Permission`` element: the folder permissions are set by the agent itself (steps 1 and 2).
"""

import sys
import uuid
from pathlib import Path
from xml.sax.saxutils import quoteattr

#: Fixed for the product's whole life: Windows finds the installed version to upgrade by it.
UPGRADE_CODE = "6F1C3B52-8A2E-4E8B-9C5D-2B7A4E1D9F30"
#: Component GUIDs are derived from the file's install path, so they stay stable across builds.
NAMESPACE = uuid.UUID("0b6f3e1c-5d2a-4c1e-9a7b-3f8e2d1c4b5a")


REGISTER = 'register --server "[SERVER]" --token "[TOKEN]" --keep-token'

LAUNCH_REFUSAL = (
    "Indique el servidor y el token de instalación: msiexec /i lanet-agent.msi"
    " SERVER=https://helpdesk.ejemplo.com/api TOKEN=LANET-XXXX-XXXX-XXXXXX"
)

#: A first install needs both; an upgrade, a repair or a registered PC keeps the registration it has
#: (LANET_REGISTERED: the agent's mark in the registry, see lanet.agent.windows.marker).
LAUNCH_CONDITION = "Installed OR WIX_UPGRADE_DETECTED OR LANET_REGISTERED OR (SERVER AND TOKEN)"
#: Where the agent marks a registered PC (lanet.agent.windows.marker.KEY and VALUE).
MARKER_KEY, MARKER_VALUE = "SOFTWARE\\LANET\\Agent", "AssetId"


def _ident(prefix: str, rel: str) -> str:
    """MSI identifiers: letters, digits, underscores and dots, at most 72 characters."""
    digest = uuid.uuid5(NAMESPACE, rel).hex[:16]
    return f"{prefix}_{digest}"


def _guid(rel: str) -> str:
    return str(uuid.uuid5(NAMESPACE, rel)).upper()


def _tree(stage: Path, directory: Path, depth: int, components: list[str], lines: list[str]) -> None:
    pad = "  " * depth
    for entry in sorted(directory.iterdir(), key=lambda p: (p.is_dir(), p.name.lower())):
        rel = entry.relative_to(stage).as_posix()
        if entry.is_dir():
            lines.append(f"{pad}<Directory Id={quoteattr(_ident('d', rel))} Name={quoteattr(entry.name)}>")
            _tree(stage, entry, depth + 1, components, lines)
            lines.append(f"{pad}</Directory>")
            continue
        component = _ident("c", rel)
        # The launchers have readable file ids: the custom actions and the Run key refer to them.
        launcher = rel.startswith("bin/") and rel.count("/") == 1 and entry.suffix == ".exe"
        file_id = entry.name.replace("-", "_") if launcher else _ident("f", rel)
        components.append(component)
        lines.append(
            f'{pad}<Component Id={quoteattr(component)} Guid={quoteattr(_guid(rel))} Win64="yes">'
            f"<File Id={quoteattr(file_id)} Name={quoteattr(entry.name)} "
            f'Source={quoteattr(rel)} KeyPath="yes"/></Component>'
        )


def _action(action_id: str, command: str, when: str = "deferred", ignore_failure: bool = False) -> str:
    """A custom action running ``bin\\agent.exe COMMAND`` as LocalSystem inside the install script."""
    result = "ignore" if ignore_failure else "check"
    return (
        f'<CustomAction Id="{action_id}" FileKey="agent.exe" ExeCommand={quoteattr(command)} '
        f'Execute="{when}" Impersonate="no" Return="{result}"/>'
    )


def render(stage: Path, version: str) -> str:
    components: list[str] = []
    files: list[str] = []
    _tree(stage, stage, 5, components, files)
    refs = "\n".join(f'      <ComponentRef Id="{c}"/>' for c in components)
    body = "\n".join(files)
    # Explicit positions: wixl places Before/After actions outside the install script. Deferred
    # actions must sit between InstallInitialize (1500) and InstallFinalize (6600): the service goes
    # before RemoveFiles (3500), the new service comes after InstallFiles (4000).
    installing = 'NOT (REMOVE="ALL")'
    removing_data = 'REMOVE="ALL" AND REMOVEDATA="1" AND NOT UPGRADINGPRODUCTCODE'
    insecure = 'ALLOW_INSECURE_HTTP="1"'  # a bare property name would be true for "0" too
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="LANET Agent" Language="1033" Version="{version}" Manufacturer="LANET"
           UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="LANET Agent {version}" Manufacturer="LANET"/>
    <MajorUpgrade DowngradeErrorMessage="Ya está instalada una versión más reciente de LANET Agent."/>
    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>
    <Property Id="MsiHiddenProperties" Value="TOKEN"/>
    <Property Id="LANET_REGISTERED">
      <RegistrySearch Id="LanetRegistered" Root="HKLM" Key="{MARKER_KEY}" Name="{MARKER_VALUE}"
                      Type="raw" Win64="yes"/>
    </Property>
    <Property Id="ARPNOMODIFY" Value="1"/>
    <Condition Message="{LAUNCH_REFUSAL}">{LAUNCH_CONDITION}</Condition>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="LANET Agent">
{body}
          <Component Id="TrayAutostart" Guid="{_guid("registry/run/tray")}" Win64="yes">
            <RegistryValue Root="HKLM" Key="SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"
                           Name="LANET Agent Tray" Type="string" Value="&quot;[#agent_tray.exe]&quot;"
                           KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Agent" Title="LANET Agent" Level="1">
{refs}
      <ComponentRef Id="TrayAutostart"/>
    </Feature>
    {_action("LanetRegister", REGISTER)}
    {_action("LanetRegisterInsecure", REGISTER + " --allow-insecure-http")}
    {_action("LanetServiceInstall", "service install")}
    {_action("LanetServiceRollback", "service uninstall", when="rollback")}
    {_action("LanetServiceStart", "service start")}
    {_action("LanetServiceRemove", "service uninstall", when="deferred", ignore_failure=True)}
    {_action("LanetRemoveData", "remove-data --yes", ignore_failure=True)}
    <InstallExecuteSequence>
      <Custom Action="LanetServiceRemove" Sequence="3450">REMOVE="ALL"</Custom>
      <Custom Action="LanetRemoveData" Sequence="3460">{removing_data}</Custom>
      <Custom Action="LanetRegister" Sequence="4010">TOKEN AND NOT {insecure} AND {installing}</Custom>
      <Custom Action="LanetRegisterInsecure" Sequence="4011">TOKEN AND {insecure} AND {installing}</Custom>
      <Custom Action="LanetServiceRollback" Sequence="4015">{installing}</Custom>
      <Custom Action="LanetServiceInstall" Sequence="4020">{installing}</Custom>
      <Custom Action="LanetServiceStart" Sequence="4030">{installing}</Custom>
    </InstallExecuteSequence>
  </Product>
</Wix>
"""


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    stage, version, out = Path(argv[1]).resolve(), argv[2], Path(argv[3])
    out.write_text(render(stage, version), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
