"""Publishing domain frames to the realtime bus (an activity the brain runs after each change)."""

from __future__ import annotations

from temporalio import activity

from mcos.infra import tracing
from mcos.infra.bus import RealtimeBus
from mcos.infra.metrics import DUPLICATES_DROPPED, frames_published
from mcos.kernel.contracts import PublishInput


class PublishActivities:
    def __init__(self, bus: RealtimeBus) -> None:
        self.bus = bus

    @activity.defn(name="publish_frames")
    async def publish_frames(self, inp: PublishInput) -> int:
        kinds = ",".join(dict.fromkeys(f.type for f in inp.frames))
        with tracing.span("publish frames", {"mcos.user_id": inp.user_id, "mcos.frames": kinds}):
            published = await self.bus.publish(inp.user_id, inp.frames)
        frames_published(published)
        # v6: the duplicates the brain dropped since its last report (no frame shows them)
        DUPLICATES_DROPPED.inc(inp.duplicates_dropped)
        return len(published)
