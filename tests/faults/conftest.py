"""Fixtures of the fault suite: the infrastructure (Temporal, Redis, PostgreSQL) and a fleet
of two workers and two APIs on its own task queue, one of each per xdist worker session.

The scenarios are two xdist groups (``pytestmark`` in each file): ``faults-bus`` (Redis and
infrastructure outages) and ``faults-deploy`` (rolling deploys, API and worker kills). Each
group runs on one xdist worker, so the suite starts two fleets, side by side, instead of one
on every worker that drew a scenario."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.faults.cluster import Fleet, Infra

# Streams last a few seconds (159 pieces × 25 ms), so faults land mid-stream; a worker
# SIGKILLed is noticed after the heartbeat timeout.
FLEET_ENV = {
    "MCOS_OFFLINE_TOKEN_DELAY_MS": "25",
    "MCOS_LLM_HEARTBEAT_TIMEOUT_S": "3",
    "MCOS_WORKER_GRACEFUL_SHUTDOWN_S": "2",
    "MCOS_TEMPORAL_CONNECT_TIMEOUT_S": "60",
    "MCOS_LIMIT_MESSAGES_PER_MINUTE": "600",
    # a short live window: turns 5+ archive to PostgreSQL, /history reaches into it
    "MCOS_BRAIN_MESSAGE_LIMIT": "8",
}


def _require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"the fault suite needs {', '.join(missing)} under CI")
        pytest.skip(f"the fault suite needs {', '.join(missing)}")


@pytest.fixture(scope="session")
async def infra(request: pytest.FixtureRequest) -> AsyncIterator[Infra]:
    _require("redis-server", "initdb", "pg_ctl")
    # Our own directory, made by the xdist worker that runs a scenario: pytest prunes old
    # numbered tmp dirs of any run on the machine, and these logs must outlive the run
    # when a test failed. When none did, it goes (each run left ~5-20 MB behind).
    root = Path(tempfile.mkdtemp(prefix="mcos-faults-"))
    infra = Infra(root)
    try:
        await infra.start()
        yield infra
    finally:
        infra.stop()
        if request.session.testsfailed:
            print(f"\n[faults] processes' logs: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def fleet(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    """Two workers and two APIs for this xdist worker's scenarios (its group); a scenario that
    stops one starts it again (and leaves the fleet whole, see ``whole_fleet``)."""
    root = infra.root / "fleet"
    root.mkdir()
    fleet = Fleet(infra, root, f"faults-{uuid.uuid4().hex[:10]}", **FLEET_ENV)
    try:
        await fleet.start()
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(autouse=True)
async def whole_fleet(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Before each scenario: everything up (an earlier failure may have left a hole)."""
    if "fleet" not in request.fixturenames:
        yield
        return
    fleet: Fleet = request.getfixturevalue("fleet")
    await fleet.infra.ensure_up()
    await fleet.ensure_up()
    yield
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(fleet.logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
