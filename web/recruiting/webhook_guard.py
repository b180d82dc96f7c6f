"""Keeping recruiter-supplied webhook URLs away from our own network (SSRF).

The server POSTs to a URL a recruiter typed, so without a guard that URL could reach the
database, the media nodes' internal API or a cloud metadata endpoint. Two checks, both skipped
when ``WEBHOOK_ALLOW_PRIVATE`` is set (tests, an ATS on the same private network):

* when the URL is saved: a host that is a literal non-public IP or ``localhost`` is refused (no
  DNS lookup then: names may legitimately change, and the API must not wait on DNS);
* when a delivery connects: every address the name resolves to must be public, checked in the
  resolver of the webhook client itself, so the address checked is the address connected to
  (no window for DNS rebinding). aiohttp skips the resolver for IP literals, so those are checked
  before the request.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressNotAllowed(OSError):
    """The webhook's host is (or resolves to) a loopback, private or otherwise non-public address."""

    def __init__(self, host: str, address: str) -> None:
        detail = f"address not allowed: {host}" + (f" resolves to {address}" if address != host else "")
        super().__init__(errno.EACCES, detail)


def forbidden_ip(ip: IpAddress) -> bool:
    """Everything but a public unicast address: loopback, private, link-local, CGNAT, multicast, reserved…"""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved


def literal_ip(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def host_forbidden(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``) and for a literal non-public IP; no DNS lookup."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    ip = literal_ip(name)
    return ip is not None and forbidden_ip(ip)


def url_host(url: str) -> str:
    try:
        return URL(url).host or ""
    except ValueError:
        return ""


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses the name if any address is non-public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for r in results:
            ip = literal_ip(r["host"])
            if ip is None or forbidden_ip(ip):
                raise AddressNotAllowed(host, r["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def client_session(allow_private: bool) -> aiohttp.ClientSession:
    """The webhook client: its own connector, no proxy from the environment, no DNS cache."""
    if allow_private:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(use_dns_cache=False))
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver(), use_dns_cache=False))


def refused(url: str, allow_private: bool) -> AddressNotAllowed | None:
    """The refusal of a URL whose host is a literal non-public IP (aiohttp never asks the resolver for those)."""
    if allow_private:
        return None
    host = url_host(url)
    ip = literal_ip(host)
    return AddressNotAllowed(host, host) if ip is not None and forbidden_ip(ip) else None


def not_allowed_reason(exc: BaseException) -> str | None:
    """The message of an ``AddressNotAllowed`` wrapped by aiohttp's connection errors, if that is the cause."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, AddressNotAllowed):
            return e.strerror
        if isinstance(e, aiohttp.ClientConnectorError) and isinstance(e.os_error, AddressNotAllowed):
            return e.os_error.strerror
        e = e.__cause__ or e.__context__
    return None
