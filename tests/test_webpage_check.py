"""The room's web page panel asks the server whether an address loads and may be framed: the framing rules
(X-Frame-Options, CSP frame-ancestors) as plain functions, addresses refused before any request, and private
addresses left unchecked (no request from the server to its own network). No network beyond loopback; the
private-address cases connect to nothing at all."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from web.sessions.webpage_check import BadAddress, check_page, framing_verdict, parse_address

OURS = ["http://127.0.0.1:8080", "https://room.example.com"]


def verdict(*headers: tuple[str, str]) -> str:
    return framing_verdict(CIMultiDict(headers), OURS)[0]


def test_no_framing_headers_allow_framing() -> None:
    assert verdict() == "allowed"
    assert verdict(("Content-Type", "text/html")) == "allowed"


@pytest.mark.parametrize("value", ["DENY", "deny", "SAMEORIGIN", "sameorigin", "DENY, DENY"])
def test_x_frame_options_refuses(value: str) -> None:
    assert verdict(("X-Frame-Options", value)) == "refused"


def test_obsolete_allow_from_is_ignored_like_browsers_do() -> None:
    assert verdict(("X-Frame-Options", "ALLOW-FROM https://room.example.com")) == "allowed"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("frame-ancestors 'none'", "refused"),
        ("frame-ancestors 'self'", "refused"),
        ("default-src 'self'; frame-ancestors 'self' https://partner.example.org", "refused"),
        ("frame-ancestors *", "allowed"),
        ("frame-ancestors https:", "allowed"),
        ("frame-ancestors https://room.example.com", "allowed"),
        ("frame-ancestors https://*.example.com", "allowed"),
        ("frame-ancestors https://*.example.org", "refused"),
        ("frame-ancestors http://127.0.0.1:8080", "allowed"),
        ("frame-ancestors http://127.0.0.1:9090", "refused"),
        ("frame-ancestors 127.0.0.1:*", "allowed"),
        ("default-src 'self'", "allowed"),  # no frame-ancestors: nothing said about framing
    ],
)
def test_csp_frame_ancestors(policy: str, expected: str) -> None:
    assert verdict(("Content-Security-Policy", policy)) == expected


def test_frame_ancestors_wins_over_x_frame_options_and_report_only_does_not_block() -> None:
    assert verdict(("Content-Security-Policy", "frame-ancestors *"), ("X-Frame-Options", "DENY")) == "allowed"
    assert verdict(("Content-Security-Policy-Report-Only", "frame-ancestors 'none'")) == "allowed"
    # every policy must allow it
    assert (
        verdict(("Content-Security-Policy", "frame-ancestors *"), ("Content-Security-Policy", "frame-ancestors 'none'"))
        == "refused"
    )


@pytest.mark.parametrize(
    "address",
    [
        "",
        "javascript:alert(1)",
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://",
        "https://user:pw@example.com/",
        "x" * 3000,
    ],
)
def test_addresses_that_cannot_be_shown_are_refused_before_any_request(address: str) -> None:
    with pytest.raises(BadAddress):
        parse_address(address)


@pytest.mark.parametrize(
    "address", ["http://127.0.0.1:1/job", "http://[::1]:1/", "http://10.0.0.1/", "http://localhost:1/"]
)
async def test_private_addresses_are_not_fetched_by_the_server(address: str) -> None:
    got = await check_page(address, OURS, allow_private=False)
    assert got.problem == "not_checked" and got.framing == "unknown", got
    assert "private network" in got.message
