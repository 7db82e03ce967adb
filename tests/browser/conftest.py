"""Browser tier: Debian's Chromium driven by Playwright (no browser download: the system binary)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.services import IN_CI

# Flags for a headless browser on a machine with a closed network: without the background-networking
# ones Chromium keeps trying (and failing) to reach its update and sync hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("DRIFTLOOP_CHROMIUM") or shutil.which("chromium")


@pytest.fixture
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        msg = "no Chromium (apt-get install chromium, or set DRIFTLOOP_CHROMIUM)"
        if IN_CI:
            pytest.fail(f"CI=true: the browser tier may not be skipped: {msg}")
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
