"""The Grafana dashboard next to the compose file shows metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import mcos.infra.metrics  # noqa: F401 - registers the metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "grafana-dashboard.json"
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def test_every_panel_queries_a_declared_metric() -> None:
    dash = json.loads(DASHBOARD.read_text())
    declared = set()
    for metric in REGISTRY.collect():
        declared.add(metric.name)
        declared.update(metric.name + suffix for suffix in SUFFIXES)
    titles = {p["title"] for p in dash["panels"]}
    for needed in (
        "time to first token",
        "turns",
        "tokens",
        "Tool latency",
        "frames",
        "Rate-limit",
    ):
        assert any(needed.lower() in t.lower() for t in titles), needed
    for panel in dash["panels"]:
        for target in panel["targets"]:
            expr = re.sub(r"by \([^)]*\)", "", target["expr"])  # label names, not metrics
            names = re.findall(r"\b([a-z][a-z0-9_]+)(?:\[|\)| |\{|$)", expr)
            ours = [n for n in names if n not in {"le", "sum", "rate"} and "_" in n]
            for name in ours:
                if name.startswith("temporal_"):
                    continue  # the SDK's own, exported by the worker's /metrics
                assert name in declared, f"{panel['title']}: {name} is not a declared metric"
