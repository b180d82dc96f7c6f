"""Can the room's "Web page" panel show an address? Asked by the page before it frames a site.

A browser cannot tell a page that refused to be framed (``X-Frame-Options``, CSP ``frame-ancestors``) or
did not load at all from one that loaded: the frame fires ``load`` either way. So the server fetches the
address once (headers only, redirects followed by hand, at most ``MAX_REDIRECTS``) and answers whether it
loads and whether it allows being framed by this site.

The address is typed by the user, so it must not reach our own network (SSRF): every hop goes through the
webhook client's public-only resolver, unless ``WEBPAGE_CHECK_ALLOW_PRIVATE`` is set (tests). A private
address is then not checked (the user's browser may well reach it); the page frames it as before.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from http import HTTPStatus

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from web.recruiting import webhook_guard

log = logging.getLogger("signaling.webpage")

MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2048
TIMEOUT_S = 8.0
USER_AGENT = "Mozilla/5.0 (compatible; InterviewRoom-PageCheck/1.0)"


@dataclass(frozen=True)
class PageCheck:
    """What the panel shows. ``framing``: allowed | refused | unknown; ``problem``: None when the page loads
    and may be framed, else unreachable | timeout | tls | http_error | too_many_redirects | refused |
    not_checked; ``message``: one sentence for the user."""

    url: str
    reachable: bool
    status: int | None
    framing: str
    problem: str | None
    message: str

    def json(self) -> dict[str, object]:
        return asdict(self)


class BadAddress(ValueError):
    """Not an http(s) address the panel can show."""


def parse_address(text: str) -> URL:
    if not text or len(text) > MAX_URL_LENGTH:
        raise BadAddress("Enter a web address (at most 2048 characters).")
    try:
        url = URL(text.strip())
    except ValueError as e:
        raise BadAddress("That is not a web address.") from e
    if url.scheme not in ("http", "https") or not url.host:
        raise BadAddress("Only http:// and https:// addresses can be shown.")
    if url.user or url.password:
        raise BadAddress("Addresses with a user name or password cannot be shown.")
    return url


# ---------------------------------------------------------------- framing rules (pure)


def _source_matches(source: str, origin: URL) -> bool:
    """One CSP ``frame-ancestors`` source against our origin (CSP3 "does url match expression")."""
    s = source.strip()
    low = s.lower()
    if low == "*":
        return origin.scheme in ("http", "https")
    if low in ("'none'", "'self'") or low.startswith("'"):
        return False  # 'self' is the framed site's own origin, never ours
    if low.endswith(":") and "/" not in low:  # a scheme source, e.g. https:
        scheme = low[:-1]
        return scheme == origin.scheme or (scheme == "http" and origin.scheme == "https")
    scheme = ""
    rest = low
    if "://" in low:
        scheme, rest = low.split("://", 1)
        if scheme != origin.scheme and not (scheme == "http" and origin.scheme == "https"):
            return False
    elif origin.scheme not in ("http", "https"):
        return False
    hostport = rest.split("/", 1)[0]
    host, _, port = hostport.partition(":")
    if host.startswith("[") and "]" in hostport:  # an IPv6 literal
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    ours = (origin.host or "").lower()
    if host.startswith("*."):
        if not ours.endswith(host[1:]):
            return False
    elif host != ours:
        return False
    default = {"http": 80, "https": 443}.get(origin.scheme)
    our_port = origin.port or default
    if port == "*":
        return True
    if port:
        return port.isdigit() and int(port) == our_port
    return our_port == default  # no port in the source: the scheme's default port only


def framing_verdict(headers: CIMultiDictProxy[str] | CIMultiDict[str], own_origins: Iterable[str]) -> tuple[str, str]:
    """("allowed" | "refused", why) for a response's headers, framed by a page of one of ``own_origins``.

    CSP ``frame-ancestors`` wins over ``X-Frame-Options`` where present (as browsers do); ``-Report-Only``
    policies do not block. ``ALLOW-FROM`` is obsolete and ignored by browsers."""
    origins = [URL(o) for o in own_origins]
    policies = headers.getall("Content-Security-Policy", [])
    ancestors_seen = False
    for policy in policies:
        for directive in policy.split(";"):
            parts = directive.split()
            if not parts or parts[0].lower() != "frame-ancestors":
                continue
            ancestors_seen = True
            sources = parts[1:]
            if not any(_source_matches(src, o) for src in sources for o in origins):
                return "refused", "the site's Content-Security-Policy (frame-ancestors) allows no other site to show it"
            break  # the first frame-ancestors of a policy counts
    if ancestors_seen:
        return "allowed", ""
    for value in headers.getall("X-Frame-Options", []):
        for token in value.split(","):
            t = token.strip().upper()
            if t in ("DENY", "SAMEORIGIN"):
                return "refused", f"the site sends X-Frame-Options: {t}"
    return "allowed", ""


# ---------------------------------------------------------------- the fetch


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


async def check_page(address: str, own_origins: Iterable[str], *, allow_private: bool) -> PageCheck:
    """Fetch ``address`` (headers only) and say whether the panel can show it. Raises ``BadAddress``."""
    url = parse_address(address)
    origins = list(own_origins)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S, sock_connect=TIMEOUT_S)
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    current = url
    try:
        async with webhook_guard.client_session(allow_private) as http:
            for _ in range(MAX_REDIRECTS + 1):
                if webhook_guard.refused(str(current), allow_private):
                    return _not_checked(current)
                async with http.get(current, headers=headers, allow_redirects=False, timeout=timeout) as resp:
                    status = resp.status
                    location = resp.headers.get("Location")
                    if status in (301, 302, 303, 307, 308) and location:
                        nxt = current.join(URL(location))
                        if nxt.scheme not in ("http", "https"):
                            return PageCheck(
                                str(current),
                                True,
                                status,
                                "unknown",
                                "unreachable",
                                "The site redirects to an address that cannot be shown.",
                            )
                        current = nxt
                        continue
                    if status >= 400:
                        return PageCheck(
                            str(current),
                            True,
                            status,
                            "unknown",
                            "http_error",
                            f"The site answered {_reason(status)}: the page cannot be shown. Check the address.",
                        )
                    framing, why = framing_verdict(resp.headers, origins)
                    if framing == "refused":
                        return PageCheck(
                            str(current),
                            True,
                            status,
                            "refused",
                            "refused",
                            f"This site does not allow being shown inside other pages ({why}). Open it in a new window.",
                        )
                    return PageCheck(
                        str(current), True, status, "allowed", None, "The page loads and may be shown here."
                    )
            return PageCheck(
                str(current),
                False,
                None,
                "unknown",
                "too_many_redirects",
                "The site redirects too many times: the page cannot be shown.",
            )
    except TimeoutError:
        return PageCheck(
            str(current),
            False,
            None,
            "unknown",
            "timeout",
            f"The site did not answer within {TIMEOUT_S:.0f} seconds: the page could not be loaded.",
        )
    except aiohttp.ClientError as e:
        if webhook_guard.not_allowed_reason(e):
            return _not_checked(current)
        if isinstance(e, aiohttp.ClientSSLError) or isinstance(getattr(e, "os_error", None), ssl.SSLError):
            return PageCheck(
                str(current),
                False,
                None,
                "unknown",
                "tls",
                "The site's secure connection failed (certificate problem): the page could not be loaded.",
            )
        what = "no such site was found" if _is_dns(e) else "the connection was refused or failed"
        return PageCheck(
            str(current),
            False,
            None,
            "unknown",
            "unreachable",
            f"The page could not be loaded: {what}. Check the address.",
        )


def _is_dns(e: BaseException) -> bool:
    dns = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns is not None and isinstance(e, dns):
        return True
    return isinstance(getattr(e, "os_error", None), socket.gaierror)


def _not_checked(url: URL) -> PageCheck:
    return PageCheck(
        str(url),
        False,
        None,
        "unknown",
        "not_checked",
        "This address is on a private network, which the server does not check; if the page stays blank, open it in a new window.",
    )
