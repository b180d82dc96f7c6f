"""Restrict which local addresses aioice offers, and which remote candidates we accept.

Why: tests and benchmarks may only send traffic to 127.0.0.1 / ::1 (docs/internals.md,
"The network rule"), and a media node may have to announce one chosen address (``ICE_HOSTS``). aioice's
``get_host_addresses`` enumerates every interface and deliberately skips loopback, so
without this a loopback-only peer offers nothing usable, and a normal peer leaks its LAN
addresses. ``Connection.gather_candidates`` looks the function up in ``aioice.ice``'s module
namespace on every call, so replacing that attribute is enough; no aioice internals change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

import aioice.ice

__all__ = [
    "restrict_ice_hosts",
    "restricted_hosts",
    "filter_sdp_candidates",
    "sdp_candidate_addresses",
]

_ORIGINAL: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
_allowed: list[str] | None = None


def _normalize(hosts: Iterable[str]) -> list[str]:
    """Validate and canonicalize IP literals (``"::0001"`` -> ``"::1"``), keeping order, no duplicates."""
    out: list[str] = []
    for raw in hosts:
        h = raw.strip().strip("[]")
        if not h:
            continue
        try:
            canon = str(ipaddress.ip_address(h))
        except ValueError:
            raise ValueError(f"ICE host {raw!r} is not an IP address") from None
        if canon not in out:
            out.append(canon)
    return out


def restrict_ice_hosts(hosts: list[str]) -> None:
    """Make aioice offer host candidates on exactly ``hosts`` (e.g. ``["127.0.0.1"]``).

    Process-wide: it affects every RTCPeerConnection gathered afterwards. An empty list
    restores aioice's own interface enumeration (``ICE_HOSTS`` empty = all interfaces), so
    calling it again with a different value is safe. Raises ValueError on a non-IP entry.
    """
    global _allowed
    allowed = _normalize(hosts)
    if not allowed:
        _allowed = None
        aioice.ice.get_host_addresses = _ORIGINAL
        return
    _allowed = allowed

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        """Replacement honouring aioice's IPv4/IPv6 switches, loopback included on purpose."""
        return [
            h
            for h in allowed
            if (use_ipv4 and ipaddress.ip_address(h).version == 4)
            or (use_ipv6 and ipaddress.ip_address(h).version == 6)
        ]

    aioice.ice.get_host_addresses = get_host_addresses


def restricted_hosts() -> list[str] | None:
    """The addresses currently forced by :func:`restrict_ice_hosts`, or None when aioice is untouched."""
    return list(_allowed) if _allowed is not None else None


def _candidate_address(line: str) -> str | None:
    """Connection address of an ``a=candidate:`` SDP line (RFC 8839 §5.1), or None if malformed."""
    parts = line.split()
    return parts[4] if len(parts) >= 8 else None


def _address_allowed(addr: str, allowed: set[str]) -> bool:
    try:
        return str(ipaddress.ip_address(addr.strip("[]"))) in allowed
    except ValueError:  # mDNS "*.local" names and other hostnames are never on the list
        return False


def filter_sdp_candidates(sdp: str, allowed: Iterable[str]) -> str:
    """Drop ``a=candidate`` lines whose address is not in ``allowed``; everything else is kept.

    Why: with non-trickle SDP every remote candidate arrives inside the offer/answer, and
    aioice would send connectivity checks to each of them (LAN, public, mDNS). Filtering the
    SDP before ``setRemoteDescription`` keeps all traffic on the allowed addresses. An
    empty ``allowed`` means no restriction and returns ``sdp`` unchanged.
    """
    allow = set(_normalize(allowed))
    if not allow:
        return sdp
    newline = "\r\n" if "\r\n" in sdp else "\n"
    kept: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            addr = _candidate_address(line)
            if addr is None or not _address_allowed(addr, allow):
                continue
        kept.append(line)
    return newline.join(kept) + (newline if sdp.endswith(("\n", "\r")) else "")


def sdp_candidate_addresses(sdp: str) -> list[str]:
    """Addresses of every ``a=candidate`` line, in order: lets tests assert what was offered."""
    out: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            addr = _candidate_address(line)
            if addr is not None:
                out.append(addr)
    return out
