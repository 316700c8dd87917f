"""A handful of the eval suite's conversations (``bench/evals.py``) against the offline
model, through the real API, WebSocket and worker: a regression in what the offline model
understands fails CI here, not only in the benchmark's pass rate."""

from __future__ import annotations

from temporalio.client import Client

from bench.evals import CASES_BY_ID, run_cases
from mcos.kernel.settings import Settings
from tests.app.conftest import running_api

# One or two per category, each an item of issue 14's list where there is one.
FAST = [
    "t-tomorrow-3pm",
    "t-next-friday",
    "a-tomorrow",
    "m-recall-name",
    "p-recall",
    "fu-move-it",
    "fu-delete-it",
    "d-delete-title",
    "mp-and-also",
    "ty-remind",
    "st-who",
    "r-injection",
]


async def test_eval_cases_pass_with_the_offline_model(
    settings: Settings, temporal_client: Client
) -> None:
    async with running_api(settings, temporal_client) as api:
        outcomes = await run_cases(api, [CASES_BY_ID[c] for c in FAST], turn_timeout=30)
    failing = {o.case.id: o.error or o.failures for o in outcomes if not o.passed}
    assert not failing, failing
    assert len(outcomes) == len(FAST)


def test_the_suite_is_large_and_covers_every_category() -> None:
    categories = {c.category for c in CASES_BY_ID.values()}
    assert len(CASES_BY_ID) >= 40
    assert categories >= {
        "tasks", "agenda", "memory", "preferences", "flights", "follow-ups", "multi-part",
        "typos", "small talk", "refusals",
    }  # fmt: skip
