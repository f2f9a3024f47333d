"""The WiX source of the MSI (packaging/windows/make_wxs.py): what Wine's installer cannot show.

The Windows lane installs, upgrades and removes the real MSI under Wine. Wine's installer does not
honour ``MsiHiddenProperties`` and only fails on a launch condition, so those promises, and the
placement of the custom actions inside the install script, are checked here on the source.
"""

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
NS = {"w": "http://schemas.microsoft.com/wix/2006/wi"}
#: Standard positions in InstallExecuteSequence.
INSTALL_INITIALIZE, REMOVE_FILES, INSTALL_FILES, INSTALL_FINALIZE = 1500, 3500, 4000, 6600


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_wxs", ROOT / "packaging/windows/make_wxs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    for name in ("bin/agent.exe", "bin/agent-service.exe", "bin/agent-tray.exe", "bin/python311.dll"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"MZ")
    module = tmp_path / "bin/Lib/site-packages/lanet/agent/cli.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    return tmp_path


def _product(stage: Path, version: str = "1.2.3") -> ET.Element:
    # Our own generator's output, not untrusted input.
    product = ET.fromstring(_module().render(stage, version)).find("w:Product", NS)  # noqa: S314
    assert product is not None
    return product


def test_the_token_is_hidden_and_a_first_install_needs_server_and_token(stage: Path) -> None:
    product = _product(stage)
    hidden = product.find("w:Property[@Id='MsiHiddenProperties']", NS)
    assert hidden is not None and hidden.get("Value") == "TOKEN"
    condition = product.find("w:Condition", NS)
    assert condition is not None
    assert condition.text == "Installed OR WIX_UPGRADE_DETECTED OR LANET_REGISTERED OR (SERVER AND TOKEN)"
    # A registered PC (the agent's mark in the registry) installs again without them.
    search = product.find("w:Property[@Id='LANET_REGISTERED']/w:RegistrySearch", NS)
    assert search is not None
    assert (search.get("Root"), search.get("Key"), search.get("Name")) == (
        "HKLM",
        "SOFTWARE\\LANET\\Agent",
        "AssetId",
    )
    assert "TOKEN=" in condition.get("Message", "")
    assert product.get("Version") == "1.2.3"
    assert product.find("w:MajorUpgrade", NS) is not None


def test_custom_actions_run_in_the_install_script_in_order(stage: Path) -> None:
    product = _product(stage)
    files = {f.get("Id") for f in product.iter(f"{{{NS['w']}}}File")}
    actions = {a.get("Id"): a for a in product.findall("w:CustomAction", NS)}
    for action in actions.values():
        assert action.get("FileKey") == "agent.exe" and "agent.exe" in files
        assert action.get("Impersonate") == "no"
        assert action.get("Execute") in ("deferred", "rollback")
    assert actions["LanetServiceRollback"].get("Execute") == "rollback"
    sequence = product.find("w:InstallExecuteSequence", NS)
    assert sequence is not None
    at = {c.get("Action"): int(c.get("Sequence", "0")) for c in sequence}
    assert set(at) == set(actions)
    assert all(INSTALL_INITIALIZE < position < INSTALL_FINALIZE for position in at.values())
    # Removal: the service stops (and flushes) before its files go; data only on request.
    assert at["LanetServiceRemove"] < at["LanetRemoveData"] < REMOVE_FILES
    # Install: files, then registration, the rollback guard, the service, its start.
    assert INSTALL_FILES < at["LanetRegister"] < at["LanetServiceRollback"] < at["LanetServiceInstall"]
    assert at["LanetServiceInstall"] < at["LanetServiceStart"]
    conditions = {c.get("Action"): c.text for c in sequence}
    assert conditions["LanetRemoveData"] == 'REMOVE="ALL" AND REMOVEDATA="1" AND NOT UPGRADINGPRODUCTCODE'
    assert conditions["LanetRegister"].startswith("TOKEN AND")


def test_component_guids_are_stable_and_unique(stage: Path) -> None:
    def guids() -> dict[str, str]:
        return {c.get("Id", ""): c.get("Guid", "") for c in _product(stage).iter(f"{{{NS['w']}}}Component")}

    first = guids()
    assert first == guids()  # the same install path keeps its component across builds
    assert len(set(first.values())) == len(first)
    run = _product(stage).find(".//w:RegistryValue", NS)
    assert run is not None and run.get("Value") == '"[#agent_tray.exe]"'
