"""Browser fixtures: Debian's Chromium driven by Playwright for Python, and a fresh `web/dist`.

Under CI a missing Chromium, Playwright or npm fails the run; elsewhere it skips."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = Path(os.environ.get("MCOS_CHROMIUM", "/usr/bin/chromium"))
# The machine's network is closed: keep Chromium from phoning home (each attempt stalls).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Inputs of the Vite build: dist is stale when any is newer than dist/index.html.
BUILD_INPUTS = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
]


def _missing(what: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} is not available")


def _newest_input() -> float:
    newest = 0.0
    for name in BUILD_INPUTS:
        path = WEB / name
        files = path.rglob("*") if path.is_dir() else [path]
        for f in files:
            if f.is_file():
                newest = max(newest, f.stat().st_mtime)
    return newest


def ensure_web_build() -> Path:
    """`web/dist`, rebuilt with npm when missing or older than its sources."""
    dist = WEB / "dist"
    index = dist / "index.html"
    if index.exists() and index.stat().st_mtime >= _newest_input():
        return dist
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm (to build web/dist)")
    lock_stamp = WEB / "node_modules" / ".package-lock.json"
    lock = WEB / "package-lock.json"
    if not lock_stamp.exists() or lock_stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True, timeout=300)
    if not index.exists():
        pytest.fail("npm run build did not produce web/dist/index.html")
    return dist


@pytest.fixture(scope="session")
def web_dist() -> Path:
    return ensure_web_build()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _require_browser() -> None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _missing("playwright (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture
async def browser_context(tmp_path: Path) -> AsyncIterator[object]:
    """A persistent context in a fresh user-data dir (Playwright owns --user-data-dir)."""
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
            locale="en-US",
            timezone_id="America/Los_Angeles",
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            await context.close()
