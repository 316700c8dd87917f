"""The chat skills: for each, its tool schema, state handler, offline recogniser and
reply text."""
