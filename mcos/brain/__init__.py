"""The brain's pure core: the reducer, commands, frames, the event log and the limits.
No Temporal, no I/O: the workflow in ``workflows/brain.py`` calls these."""
