"""The brain's versions: ``workflow.patched`` ids, so earlier histories keep replaying.

v2 publishes by an activity; v3 continues as new by history length, carrying the backlog;
v4 adds the timer, approvals, task archival and operator entries; v5 continues as new by
size too; v6 sends each LLM call only what it needs (``mcos.llm.lean``), the turn's
archival with it; v7 continues by size only once the run itself added half the trigger
(a carried backlog larger than the trigger made every new run due at once: a run a
second, each re-sending the backlog, none draining it); v8 hands the carry on compressed
(``BrainInput.packed``): a backlog carried under load had made a run 1.2 MB.
"""

from __future__ import annotations

from temporalio import workflow

V2_SIDE_EFFECTS = "side-effects-v2"
V3_CARRY_BACKLOG = "carry-backlog-v3"
V4_TRANCHE2 = "reminders-approvals-v4"
V5_HISTORY_BYTES = "history-bytes-v5"  # continue-as-new by history size too
V6_LEAN_CALLS = "lean-llm-calls-v6"  # each LLM call carries what it needs, archival with it
V7_RUN_GROWTH = "run-growth-v7"  # by size only once the run grew by half the trigger
V8_PACKED_CARRY = "packed-carry-v8"  # continue-as-new hands the carry on zlib-compressed


def brain_version() -> int:
    """The running brain's version, 2–8. Called first thing in a run: the patches are asked
    in the order they were added (each marker recorded after the one before it)."""
    if not workflow.patched(V3_CARRY_BACKLOG):
        return 2
    if not workflow.patched(V4_TRANCHE2):
        return 3
    if not workflow.patched(V5_HISTORY_BYTES):
        return 4
    if not workflow.patched(V6_LEAN_CALLS):
        return 5
    if not workflow.patched(V7_RUN_GROWTH):
        return 6
    return 8 if workflow.patched(V8_PACKED_CARRY) else 7
