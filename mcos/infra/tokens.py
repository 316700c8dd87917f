"""One LLM attempt's tokens onto the realtime bus: in order, batched, never dropped.

A fast model (or the offline one at zero delay) makes tokens far faster than anyone reads
them, and every frame costs a bus publish, a relay hop and a WebSocket send. So a token
goes at once when no frame went in the last ``window_s`` (a model at ordinary speed, a
token every 20 ms or more, streams exactly as before: one frame per token); tokens that
come sooner wait for the window to end and go together as one ``llm.token`` frame of
consecutive tokens (``first_index``…``index``, ``count``, the texts joined — the same
shape the relay gives a lagging client, see ``app.frames``). At most ``max_tokens`` ride
in one frame. While a publish is out the next tokens gather too, so a slow bus slows the
frames, not the model.

``close`` publishes what is left and waits for it: call it before the attempt's result
(or error) leaves the activity, so no token of this attempt can arrive after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from mcos.kernel.frames import Frame

WINDOW_S = 0.016  # one display frame: at most ~60 token frames a second per stream
MAX_TOKENS = 256  # tokens in one frame (a few KB of text), as the relay's lag merge

Publish = Callable[[list[Frame]], Awaitable[object]]


class TokenPublisher:
    def __init__(
        self,
        publish: Publish,
        frame: Callable[[dict[str, object]], Frame],
        window_s: float = WINDOW_S,
        max_tokens: int = MAX_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``frame`` makes the ``llm.token`` frame from its data (``index``, ``text``,
        and ``first_index``/``count`` for several tokens)."""
        self._publish = publish
        self._frame = frame
        self.window_s = window_s
        self.max_tokens = max(1, max_tokens)
        self._clock = clock
        self._pending: list[tuple[int, str]] = []
        self._last = float("-inf")  # when the last frame went
        self._task: asyncio.Task[None] | None = None
        self.frames = 0  # frames handed to the bus

    def add(self, index: int, text: str) -> None:
        """Queue token ``index`` (consecutive from the first); never blocks."""
        self._pending.append((index, text))
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Publish every queued token and wait until the bus has them (or gave up)."""
        while self._task is not None:
            await self._task

    async def _run(self) -> None:
        try:
            while self._pending:
                wait = self._last + self.window_s - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                batch, self._pending = self._pending, []
                self._last = self._clock()
                frames = [
                    self._frame(_data(batch[i : i + self.max_tokens]))
                    for i in range(0, len(batch), self.max_tokens)
                ]
                self.frames += len(frames)
                await self._publish(frames)
        finally:
            self._task = None


def _data(run: list[tuple[int, str]]) -> dict[str, object]:
    first, last = run[0][0], run[-1][0]
    data: dict[str, object] = {"index": last, "text": "".join(text for _, text in run)}
    if len(run) > 1:
        data.update(first_index=first, count=len(run))
    return data
