"""``llm.token`` frames as the tokens they carry: a frame is one token or a run of
consecutive ones (``first_index``…``index``, ``count``), see ``mcos.infra.tokens``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def token_indexes(datas: Iterable[Mapping[str, Any]]) -> list[int]:
    """Every token index the frames' ``data`` carry, in the order they came."""
    out: list[int] = []
    for data in datas:
        last = data["index"]
        first = data.get("first_index", last)
        count = data.get("count", 1)
        assert last - first + 1 == count, f"a run's count disagrees with its indexes: {data}"
        out.extend(range(first, last + 1))
    return out
