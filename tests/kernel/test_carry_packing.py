"""The carry a brain hands to its next run, packed (v8): the same carry back, through the
worker's data converter, several times smaller, and old unpacked inputs still read."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.contrib.pydantic import pydantic_data_converter

from mcos.kernel.contracts import BrainCarry, BrainConfig, BrainInput
from mcos.kernel.models import BrainState, Message


def _carry(messages: int) -> BrainCarry:
    state = BrainState(user_id="u1")
    state.messages = [
        Message(
            id=f"msg-{i:05d}",
            role="user",
            text=f"message {i:04d} about the trip to Lisbon",
            created_at=datetime(2026, 12, 1, 9, 0, i % 60, tzinfo=UTC),
            seq=i + 1,
        )  # fmt: skip
        for i in range(messages)
    ]
    return BrainCarry(state=state)


async def test_a_packed_carry_comes_back_whole_through_the_converter() -> None:
    carry = _carry(300)
    packed = BrainInput.packing("u1", BrainConfig(), carry)
    [payload] = await pydantic_data_converter.encode([packed])
    [back] = await pydantic_data_converter.decode([payload], [BrainInput])
    assert back.carry is None and back.carried() == carry
    plain = BrainInput(user_id="u1", config=BrainConfig(), carry=carry)
    [unpacked] = await pydantic_data_converter.encode([plain])
    assert len(payload.data) * 4 < len(unpacked.data), (len(payload.data), len(unpacked.data))


async def test_an_unpacked_input_of_an_earlier_run_still_reads() -> None:
    carry = _carry(3)
    [payload] = await pydantic_data_converter.encode(
        [BrainInput(user_id="u1", config=BrainConfig(), carry=carry)]
    )
    [back] = await pydantic_data_converter.decode([payload], [BrainInput])
    assert back.packed is None and back.carried() == carry
    assert BrainInput(user_id="u1").carried() is None  # a new brain
