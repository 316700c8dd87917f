"""The realtime frame budget of one WebSocket connection (pure; no I/O).

At most ``limit`` frames per ``window_s``. Over it, frames wait in order and consecutive
``llm.token`` frames of one operation attempt merge into one (texts joined, ``index`` the
last token's, ``first_index`` the first's, the later cursor) — nothing is dropped. The same
merge serves a client that lags behind its stream (:meth:`FrameThrottle.pop_run`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from mcos.kernel.frames import Frame

LAG_FRAMES = 32  # frames waiting for a connection's socket: it lags, merge its tokens
MAX_RUN = 256  # tokens merged into one frame for a lagging client (a few KB of text)


def mergeable(a: Frame, b: Frame) -> bool:
    index, after = a.token_index(), b.token_index()
    if index is None or after is None or b.data.get("first_index", after) != index + 1:
        return False  # b (one token or a run of them) must start right after a
    da, db = a.data, b.data
    return da.get("operation_id") == db.get("operation_id") and da.get("attempt") == db.get(
        "attempt"
    )


def merge(a: Frame, b: Frame) -> Frame:
    da, db = a.data, b.data
    data = {
        **db,
        "text": (da.get("text") or "") + (db.get("text") or ""),
        "first_index": da.get("first_index", da["index"]),
        "count": da.get("count", 1) + db.get("count", 1),
    }
    return b.model_copy(update={"data": data})


class FrameThrottle:
    """A token bucket: bursts of up to ``limit // 5`` frames, then a steady trickle.

    The bucket refills at ``(limit - burst) / window_s`` frames a second, so no window of
    ``window_s`` ever carries more than ``limit`` frames, yet a long answer never stalls:
    over budget, the tokens that arrive between two sends merge into the next frame.
    """

    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.burst = max(1, limit // 5)
        self.rate = max(limit - self.burst, 1) / window_s
        self.tokens = float(self.burst)
        self.updated = clock()
        self.pending: deque[Frame] = deque()
        self.coalesced = 0

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_s(self) -> float:
        """Seconds until another frame may go (0 when it may go now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def push(self, frame: Frame) -> None:
        if self.pending and self.wait_s() > 0 and mergeable(self.pending[-1], frame):
            self.pending[-1] = merge(self.pending[-1], frame)
            self.coalesced += 1
        else:
            self.pending.append(frame)

    def pop(self) -> Frame | None:
        """The next frame when the budget allows, recording it as sent."""
        if not self.pending or self.wait_s() > 0:
            return None
        self.tokens -= 1
        return self.pending.popleft()

    def pop_run(self, lag: int = LAG_FRAMES, max_tokens: int = MAX_RUN) -> Frame | None:
        """Like :meth:`pop`, but a lagging client (``lag`` frames or more waiting) gets the
        waiting run of consecutive ``llm.token`` frames as one merged frame (at most
        ``max_tokens`` tokens), so a socket that cannot keep up costs one send per run, not
        per token. Nothing is dropped: the texts join, ``first_index``…``index`` say which
        tokens. A client that keeps up still gets every token as its own frame."""
        lagging = len(self.pending) >= lag
        frame = self.pop()
        if frame is None or not lagging:
            return frame
        while (
            self.pending
            and frame.data.get("count", 1) + self.pending[0].data.get("count", 1) <= max_tokens
            and mergeable(frame, self.pending[0])
        ):
            frame = merge(frame, self.pending.popleft())
            self.coalesced += 1
        return frame
