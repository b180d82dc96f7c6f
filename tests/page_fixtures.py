"""The fixtures every page test module repeats: a signaling process of its own (``site``), one headless
Chromium for the module (``browser``) and a fresh context and page a test (``visit``).

A module binds them by name, e.g. ``site, browser, visit = page_fixtures("signaling-analytics")``; the
pieces are also there alone (``site_fixture``, ``browser_fixture``, ``visit_fixture``) for a module whose
site needs fixtures of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser_helpers import chromium, silence_wav
from conftest import Infra, Stack
from playwright.sync_api import Browser
from test_hostile_http import signaling_alone


def site_fixture(name: str, **env: str) -> Callable[..., Any]:
    """A module-scoped signaling process named ``name`` with ``env`` on top of the test stack's."""

    @pytest.fixture(scope="module", name="site")
    def site(infra: Infra) -> Iterator[Stack]:
        with signaling_alone(infra, name, **env) as s:
            yield s

    return site


def browser_fixture() -> Callable[..., Any]:
    """A module-scoped headless Chromium whose fake microphone plays silence (loopback-only flags)."""

    @pytest.fixture(scope="module", name="browser")
    def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
        with chromium(silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")) as b:
            yield b

    return browser


def visit_fixture() -> Callable[..., Any]:
    """A fresh browser context and page on ``site`` a test (test_newuser_pages.Visit), closed after it."""

    @pytest.fixture(name="visit")
    def visit(browser: Browser, site: Stack) -> Iterator[Any]:
        from test_newuser_pages import Visit

        v = Visit(browser, site)
        try:
            yield v
        finally:
            v.close()

    return visit


def page_fixtures(name: str, **env: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """``site``, ``browser`` and ``visit`` for a page test module whose signaling process is ``name``."""
    return site_fixture(name, **env), browser_fixture(), visit_fixture()
