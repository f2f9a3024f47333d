"""OS updates on Windows, in Windows Python under Wine: Wine has no working Windows Update Agent, so
the scan must say so plainly, and nothing worse (no crash, no hang, no half result)."""

from lanet.agent.patches import scan_os


def test_without_a_working_update_agent_the_scan_says_it_is_not_available() -> None:
    found = scan_os()
    assert found.source == "windows_update" and found.items == []
    said = found.error or ""
    assert said.startswith("Windows Update Agent not available"), said
