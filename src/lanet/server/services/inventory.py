"""Machine identity and inventory storage, shared by registration and inventory uploads."""

import hashlib
import json
import re
from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from lanet.protocol.registration import HardwareInfo
from lanet.server.models import Asset, AssetService, AssetSoftware

#: Serial numbers that firmware vendors leave in place of a real one; they identify nothing.
_PLACEHOLDER_SERIALS = {
    "",
    "0",
    "none",
    "n/a",
    "na",
    "default string",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "system serial number",
    "chassis serial number",
    "not specified",
    "not applicable",
    "invalid",
    "123456789",
    "0123456789",
}


def _meaningful_serial(serial: str | None) -> str | None:
    if serial is None:
        return None
    value = serial.strip().lower()
    if value in _PLACEHOLDER_SERIALS or re.fullmatch(r"0+|x+|\.+", value):
        return None
    return value


def fingerprint(hw: HardwareInfo) -> str:
    """A stable identity for one machine within a client.

    The OS machine id plus the (real) serial number when the agent sends one: cloned VMs that share
    a machine id still differ by serial. Without a machine id, serial, MAC and name together.
    """
    serial = _meaningful_serial(hw.serial_number) or ""
    if hw.machine_id:
        basis = f"mid:{hw.machine_id.strip().lower()}|{serial}"
    else:
        mac = (hw.mac_address or "").replace("-", ":").lower()
        basis = f"hw:{serial}|{mac}|{hw.computer_name.strip().lower()}"
    return hashlib.sha256(basis.encode()).hexdigest()


def inventory_digest(hw: HardwareInfo) -> str:
    canonical = json.dumps(hw.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def apply_inventory(session: Session, asset: Asset, hw: HardwareInfo, now: datetime) -> bool:
    """Store ``hw`` as the asset's inventory; returns False when it is unchanged (same digest)."""
    digest = inventory_digest(hw)
    asset.computer_name = hw.computer_name
    asset.os = hw.os
    asset.os_version = hw.os_version
    asset.ip_address = hw.ip_address or asset.ip_address
    asset.assigned_user = hw.assigned_user
    asset.inventory_at = now
    if digest == asset.inventory_digest:
        return False
    asset.inventory_digest = digest
    asset.hardware = hw.model_dump(mode="json", exclude={"installed_software", "services", "updates"})
    asset.updates = hw.updates.model_dump(mode="json") if hw.updates else None
    session.flush()
    session.execute(delete(AssetSoftware).where(AssetSoftware.asset_id == asset.id))
    session.execute(delete(AssetService).where(AssetService.asset_id == asset.id))
    if hw.installed_software:
        session.execute(
            insert(AssetSoftware),
            [{"asset_id": asset.id, **item.model_dump(mode="json")} for item in hw.installed_software],
        )
    if hw.services:
        session.execute(
            insert(AssetService),
            [{"asset_id": asset.id, **item.model_dump(mode="json")} for item in hw.services],
        )
    return True
