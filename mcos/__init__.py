"""Micro Chief of Staff: the library (kernel, brain, skills, llm, flights, calendar, infra)
and the ``mcos`` command."""
