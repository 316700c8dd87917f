"""One chat turn is one trace: WebSocket frame → signal → workflow → LLM activity."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from mcos.infra import tracing
from mcos.infra.devserver import DevServer
from mcos.infra.temporal import client_interceptors
from mcos.kernel.settings import Settings
from tests.app.chat_helpers import say
from tests.app.conftest import running_api
from tests.conftest import eventually, user_id


def test_tracing_is_off_by_default() -> None:
    settings = Settings(_env_file=None)
    assert settings.tracing == "off"
    assert tracing.temporal_interceptors(settings) == []


async def test_the_span_tree_of_one_chat_turn(
    settings: Settings, temporal_server: DevServer
) -> None:
    settings = settings.model_copy(update={"tracing": "memory"})
    client = await Client.connect(
        temporal_server.address,
        data_converter=pydantic_data_converter,
        interceptors=client_interceptors(settings),
    )
    exporter = tracing.memory_exporter()
    assert exporter is not None
    exporter.clear()
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
