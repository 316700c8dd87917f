"""Publishing domain frames to the realtime bus (an activity the brain runs after each change)."""

from __future__ import annotations

from temporalio import activity

from mcos.infra.bus import RealtimeBus
from mcos.infra.metrics import REALTIME_FRAMES_PUBLISHED
from mcos.kernel.contracts import PublishInput


class PublishActivities:
    def __init__(self, bus: RealtimeBus) -> None:
        self.bus = bus

    @activity.defn(name="publish_frames")
    async def publish_frames(self, inp: PublishInput) -> int:
        published = await self.bus.publish(inp.user_id, inp.frames)
        REALTIME_FRAMES_PUBLISHED.inc(len(published))
        return len(published)
