"""One chat turn is one trace: WebSocket frame → signal → workflow → LLM activity."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from mcos.infra import tracing
from mcos.infra.devserver import DevServer
from mcos.infra.temporal import client_interceptors
from mcos.kernel.settings import Settings
from tests.app.chat_helpers import say
from tests.app.conftest import running_api
from tests.conftest import eventually, user_id


async def traced(settings: Settings, temporal_server: DevServer) -> tuple[Settings, Client, Any]:
    """Settings with in-memory tracing, a client carrying the tracing interceptors, and the
    exporter emptied of earlier tests' spans."""
    settings = settings.model_copy(update={"tracing": "memory"})
    client = await Client.connect(
        temporal_server.address,
        data_converter=pydantic_data_converter,
        interceptors=client_interceptors(settings),
    )
    exporter = tracing.memory_exporter()
    assert exporter is not None
    exporter.clear()
    return settings, client, exporter


def test_tracing_is_off_by_default() -> None:
    settings = Settings(_env_file=None)
    assert settings.tracing == "off"
    assert tracing.temporal_interceptors(settings) == []


async def test_the_span_tree_of_one_chat_turn(
    settings: Settings, temporal_server: DevServer
) -> None:
    settings, client, exporter = await traced(settings, temporal_server)
    uid = user_id()
    async with running_api(settings, client) as api:
        async with await api.ws(uid) as ws:
            turn = await say(ws, "Hello!")
        assert turn.text

        def finished() -> list:
            names = {s.name for s in exporter.get_finished_spans()}
            return ["RunActivity:llm_reply" in names]

        await eventually(lambda: finished()[0], 30)
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    frame = next(
        s for s in spans if s.name == "ws.frame" and s.attributes.get("mcos.user_id") == uid
    )
    run_llm = next(
        s
        for s in spans
        if s.name == "RunActivity:llm_reply" and s.context.trace_id == frame.context.trace_id
    )

    def ancestry(span) -> list[str]:  # noqa: ANN001
        chain = [span.name]
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span.name)
        return chain

    chain = ancestry(run_llm)
    assert chain[0] == "RunActivity:llm_reply" and chain[-1] == "ws.frame", chain
    assert "StartActivity:llm_reply" in chain
    assert any(n.endswith("Workflow:UserBrainWorkflow") for n in chain), chain
    assert any(
        n.startswith("SignalWithStartWorkflow") or n.startswith("StartWorkflow") for n in chain
    ), chain
    assert frame.parent is None  # a root: one trace per frame, not per connection
    assert frame.attributes["mcos.request_id"].startswith("req_")


def _tree(spans: list) -> dict:  # noqa: ANN001
    return {s.context.span_id: s for s in spans}


def _chain(span, by_id: dict) -> list[str]:  # noqa: ANN001
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def _final_publishes(spans: list, trace_id: int) -> list:  # noqa: ANN001
    """The spans that put a reply's ``message.completed`` on the bus (the LLM activity's
    ``publish reply``, or a publish activity's ``publish frames``)."""
    return [
        s for s in spans
        if s.context.trace_id == trace_id and s.name in ("publish reply", "publish frames")
        and "message.completed" in str(s.attributes.get("mcos.frames", ""))
    ]  # fmt: skip


async def test_every_turn_of_a_running_brain_is_its_own_trace(
    settings: Settings, temporal_server: DevServer
) -> None:
    """Not only the turn that started the brain: each turn's WebSocket frame is the root of
    a trace holding its signal, the workflow's turn and LLM calls, the activities and the
    publish of the final message — and nothing of the other turns."""
    settings, client, exporter = await traced(settings, temporal_server)
    uid = user_id()
    texts = ["Hello!", "Remind me to call John tomorrow at 3pm", "Thanks!"]
    async with running_api(settings, client) as api:
        async with await api.ws(uid) as ws:
            for text in texts:
                assert (await say(ws, text)).text

        def finals() -> int:
            spans = exporter.get_finished_spans()
            return sum(
                bool(_final_publishes(spans, s.context.trace_id))
                for s in spans
                if s.name == "ws.frame" and s.attributes.get("mcos.user_id") == uid
            )

        await eventually(lambda: finals() == 3, 30)
    spans = exporter.get_finished_spans()
    by_id = _tree(spans)
    frames = [
        s for s in spans
        if s.name == "ws.frame" and s.attributes.get("mcos.user_id") == uid
        and s.attributes.get("mcos.frame_type") == "message.send"
    ]  # fmt: skip
    assert len(frames) == 3
    traces = [f.context.trace_id for f in frames]
    assert len(set(traces)) == 3, "each turn its own trace"
    for frame, text in zip(frames, texts, strict=True):
        assert frame.parent is None  # the root
        mine = [s for s in spans if s.context.trace_id == frame.context.trace_id]
        names = sorted(s.name for s in mine)
        runs = [s for s in mine if s.name == "RunActivity:llm_reply"]
        assert runs, names
        for run in runs:
            chain = _chain(run, by_id)
            assert chain[0] == "RunActivity:llm_reply" and chain[-1] == "ws.frame", chain
            assert chain[1] == "StartActivity:llm_reply", chain  # the workflow's
            assert chain[2].startswith(("SignalWorkflow", "SignalWithStartWorkflow")), chain
        final = _final_publishes(spans, frame.context.trace_id)
        assert len(final) == 1, names
        chain = _chain(final[0], by_id)
        assert chain[1].startswith("RunActivity:") and chain[-1] == "ws.frame", chain
        turn = [s for s in mine if s.name.startswith("Turn:")]
        assert len(turn) == 1, names
        assert turn[0].attributes["mcos.text_bytes"] == len(text.encode())  # never the text
        assert _chain(turn[0], by_id)[-1] == "ws.frame"
    # the tool turn's two LLM calls are both in its trace, none of the others' is
    per_trace = [sum(s.name == "RunActivity:llm_reply" and s.context.trace_id == t
                     for s in spans) for t in traces]  # fmt: skip
    assert per_trace == [1, 2, 1]
