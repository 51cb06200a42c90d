"""Fixtures of the portal tests: the session's gateway (one per backend) under a short name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.harness import Gateway
from tests.portal.live import CHROMIUM_ARGS, Live, chromium, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    """The session's gateway; tests add their own customers to it."""
    return gateway


@pytest.fixture(scope="session")
def live(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The session's gateway served over HTTP on a free local port, portal included."""
    found, server, thread = serve(gateway, tmp_path_factory.mktemp("live"))
    yield found
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """One headless chromium per test session (and xdist worker)."""
    path = chromium()
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    browser = driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    driver.stop()
