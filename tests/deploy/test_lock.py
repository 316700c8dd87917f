"""The Python lock files agree with pyproject.toml: every declared dependency is pinned,
with hashes, at a version its specifier allows, and the dev lock agrees with the runtime one.
A dependency added to pyproject without `scripts/lock` fails here."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from mcos.calendar.google_mcp import DEFAULT_COMMAND
from mcos.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The lock is universal; the checks read the pins that apply on the supported Python.
ENV = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux"}


def _pins(path: Path) -> dict[str, Version]:
    """name -> pinned version for the entries that apply on ENV; every entry has a hash."""
    pins: dict[str, Version] = {}
    text = path.read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.splitlines()[0].rstrip(" \\")
        if not head or head.startswith("#"):
            continue
        assert "--hash=sha256:" in block, f"{path.name}: {head} has no hash"
        spec, _, marker = head.partition(";")
        name, _, version = spec.strip().partition("==")
        assert version, f"{path.name}: {head} is not pinned with =="
        if marker.strip() and not Marker(marker.strip()).evaluate(ENV):
            continue
        pins[canonicalize_name(name)] = Version(version.strip())
    return pins


BASE = _pins(ROOT / "requirements" / "base.txt")
DEV = _pins(ROOT / "requirements" / "dev.txt")


def _check(requirements: list[str], pins: dict[str, Version], lock: str) -> None:
    for line in requirements:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in {lock}: run scripts/lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}: run scripts/lock"
        )


def test_runtime_dependencies_are_locked() -> None:
    _check(PYPROJECT["project"]["dependencies"], BASE, "requirements/base.txt")


def test_test_and_local_llm_extras_are_locked() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    _check(
        PYPROJECT["project"]["dependencies"] + extras["test"] + extras["local-llm"],
        DEV,
        "requirements/dev.txt",
    )


def test_dev_lock_agrees_with_the_runtime_lock() -> None:
    differ = {n: (v, DEV[n]) for n, v in BASE.items() if n in DEV and DEV[n] != v}
    assert not differ
    assert set(BASE) <= set(DEV)


def test_setup_and_image_install_from_the_lock_with_hashes() -> None:
    setup = (ROOT / "scripts" / "setup").read_text()
    assert "--require-hashes -r requirements/dev.txt" in setup
    assert "--no-deps -e ." in setup
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/base.txt" in dockerfile
    assert "pip install --no-deps ." in dockerfile


def test_google_calendar_mcp_is_pinned_once() -> None:
    """CI installs the server from scripts/gcal-mcp's lock; the default command runs the same."""
    package = "@cocal/google-calendar-mcp"
    manifest = json.loads((ROOT / "scripts" / "gcal-mcp" / "package.json").read_text())
    lock = json.loads((ROOT / "scripts" / "gcal-mcp" / "package-lock.json").read_text())
    version = lock["packages"][f"node_modules/{package}"]["version"]
    assert manifest["dependencies"][package] == version  # exact, no range
    assert lock["packages"][f"node_modules/{package}"]["integrity"].startswith("sha512-")
    assert DEFAULT_COMMAND[-1] == f"{package}@{version}"
    default = Settings.model_fields["google_calendar_mcp_command"].default
    assert default.split()[-1] == f"{package}@{version}"
    assert "npm ci" in (ROOT / ".ci" / "run").read_text()
