"""Kernel: the ids, models, contracts, frames, error types and settings every layer shares
(pure data)."""
