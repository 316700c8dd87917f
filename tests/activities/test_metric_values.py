"""Declared metrics are incremented where the thing happens (checked by value)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities
from activities.llm_reply import LlmActivities
from activities.publish import PublishActivities
from activities.sql import SqlActivities
from mcos.infra.bus import MemoryBus
from mcos.infra.db import get_engine
from mcos.kernel.contracts import (
    ArchiveInput,
    CalendarSource,
    LlmTurnInput,
    OfflineScript,
    PublishInput,
    ReplyDraft,
)
from mcos.kernel.frames import Frame
from mcos.llm.offline import OfflineProvider
from tests.activities.test_calendar import _input, _settings
from tests.app.fake_providers import FlakyProvider
from tests.support.calendar_sync import build_sync_ics
from tests.support.tokens import token_indexes


def syncs(status: str) -> float:
    return REGISTRY.get_sample_value("calendar_sync_total", {"status": status}) or 0.0


async def test_calendar_sync_total_counts_each_fetch_by_status(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.ics_dir / "a.ics").write_bytes(build_sync_ics())
    acts = CalendarActivities(settings)
    ok, invalid = syncs("ok"), syncs("invalid")
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="ics", location="a.ics"))
    )
    assert out.status == "ok"
    assert (syncs("ok"), syncs("invalid")) == (ok + 1, invalid)
    (settings.ics_dir / "bad.ics").write_bytes(b"not a calendar")
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="ics", location="bad.ics"))
    )
    assert out.status == "invalid"
    assert (syncs("ok"), syncs("invalid")) == (ok + 1, invalid + 1)


# --- what the brain does, counted from the frames activities publish --------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counts() -> dict[str, float]:
    return {
        "frames": sample("realtime_frames_published_total"),
        "user": sample("messages_created_total", role="user"),
        "assistant": sample("messages_created_total", role="assistant"),
        "create_task": sample("tool_invocations_total", tool="create_task", status="success"),
        "flights": sample("tool_invocations_total", tool="search_flights", status="success"),
        "writes": sample("rate_limit_rejections_total", limit_type="writes_per_day"),
        "duplicates": sample("duplicate_events_dropped_total"),
    }


def changed(before: dict[str, float]) -> dict[str, float]:
    after = counts()
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


def turn_frames() -> list[Frame]:
    user = {"id": "msg_u", "role": "user", "text": "Remind me"}
    return [
        Frame(type="message.created", key="seq:1", data=user),
        Frame(type="llm.action", key="t1:action", data={"name": "create_task"}),
        Frame(type="tool.result", key="t1:result",
              data={"tool": "create_task", "status": "success"}),
        # counted by the flights activity itself (it sees timeouts and rate limits)
        Frame(type="tool.result", key="t2:result",
              data={"tool": "search_flights", "status": "success"}),
        Frame(type="rate_limited", key="refused:evt_1",
              data={"error": {"code": "rate_limited",
                              "details": {"limit_type": "writes_per_day"}}}),
    ]  # fmt: skip


async def test_the_publish_activity_counts_what_its_frames_show_once_and_the_duplicates() -> None:
    bus = MemoryBus()
    acts = PublishActivities(bus)
    before = counts()
    inp = PublishInput(user_id="u-metrics", frames=turn_frames(), duplicates_dropped=2)
    assert await ActivityEnvironment().run(acts.publish_frames, inp) == 5
    assert changed(before) == {
        "frames": 5, "user": 1, "create_task": 1, "writes": 1, "duplicates": 2
    }  # fmt: skip
    # a retried publish: the bus drops the repeated keys, nothing is counted twice
    before = counts()
    again = inp.model_copy(update={"duplicates_dropped": 0})
    assert await ActivityEnvironment().run(acts.publish_frames, again) == 0
    assert changed(before) == {}


async def test_the_llm_activity_counts_the_frames_it_publishes_and_the_reply() -> None:
    bus = MemoryBus()
    user = {"id": "msg_u", "role": "user", "text": "Hello!"}
    draft = ReplyDraft(message_id="msg_a", reply_to="msg_u", parent_id="msg_u", seq=2)
    inp = LlmTurnInput(
        user_id="u-metrics",
        operation_id="op_1",
        messages=[],
        audience="offline",
        script=OfflineScript(text="Hi there"),
        frames=[Frame(type="message.created", key="seq:1", data=user)],
        reply=draft,
    )
    before = counts()
    acts = LlmActivities(OfflineProvider(token_delay_ms=0), bus)
    result = await ActivityEnvironment().run(acts.llm_reply, inp)
    assert result.reply_published
    published = await bus.replay("u-metrics", None)
    tokens = [f.data for f in published if f.type == "llm.token"]
    assert token_indexes(tokens) == [0, 1, 2]  # "Hi", " the", "re" (in one frame or more)
    # the user's echo, the tokens, the reply's created and completed frames
    assert changed(before) == {"frames": len(published), "user": 1, "assistant": 1}
    assert len(published) == 1 + len(tokens) + 2


async def test_the_llm_activity_counts_ttft_tokens_and_failures() -> None:
    def llm() -> tuple[float, float, float, float]:
        return (
            sample("llm_time_to_first_token_seconds_count"),
            sample("llm_tokens_total", kind="prompt"),
            sample("llm_tokens_total", kind="completion"),
            sample("llm_failures_total"),
        )

    script = OfflineScript(text="One two", prompt_tokens=40)
    inp = LlmTurnInput(
        user_id="u-metrics", operation_id="op_2", messages=[], audience="offline", script=script
    )
    before = llm()
    await ActivityEnvironment().run(
        LlmActivities(OfflineProvider(token_delay_ms=0), MemoryBus()).llm_reply, inp
    )
    after = llm()
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 40, 2, 0]
    flaky = FlakyProvider(failures=1, fail_after=1, delay_ms=0)
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(LlmActivities(flaky, MemoryBus()).llm_reply, inp)
    assert llm()[3] == after[3] + 1


async def test_archived_messages_are_counted_once_on_either_path(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'a.db'}")
    sql = SqlActivities(engine)
    rows = [
        {"id": f"msg_{i}", "role": "user", "text": f"m{i}", "created_at": "2026-12-01T09:00:00Z"}
        for i in range(3)
    ]
    before = sample("messages_archived_total")
    await ActivityEnvironment().run(sql.archive_messages, ArchiveInput(user_id="u", messages=rows))
    assert sample("messages_archived_total") == before + 3
    # the same rows again, as the LLM activity archives them (v6): nothing new, nothing counted
    assert await sql.archive("u", rows) == 0
    assert sample("messages_archived_total") == before + 3
