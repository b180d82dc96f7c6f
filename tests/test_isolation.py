"""Tests that change process-wide state leave it as they found it, so no test depends on the order tests ran in.

The two tests below run in file order: the first changes aioice's host list and does not undo it itself; the
second sees the list as it was before the first (tests/conftest.py ``ice_hosts_restored``).
"""

from __future__ import annotations

import aioice.ice

from interview_room.loopback_ice import restrict_ice_hosts, restricted_hosts

seen: dict[str, object] = {}


def test_a_test_restricts_the_ice_hosts_and_forgets_to_undo_it() -> None:
    seen["before"] = restricted_hosts()
    seen["function"] = aioice.ice.get_host_addresses
    restrict_ice_hosts(["127.0.0.2"])
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.2"]


def test_the_next_test_finds_the_host_list_as_it_was() -> None:
    assert "before" in seen, "runs after the test above"
    assert restricted_hosts() == seen["before"]
    if seen["before"] is None:
        assert aioice.ice.get_host_addresses is seen["function"]
    else:
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == seen["before"]
