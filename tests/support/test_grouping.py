"""The suite's xdist groups hold: under ``--dist loadgroup`` (scripts/test) a test marked
``xdist_group`` carries its group in its node id, which is what sends every test of a group to
one worker. With pytest 9.2 and xdist 3.8 the suffix silently went missing
(pytest-dev/pytest-xdist#1386): the llama.cpp tests ran on three workers, each starting its
own server."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("llama")
def test_a_grouped_test_is_scheduled_with_its_group(request: pytest.FixtureRequest) -> None:
    # set by xdist on a worker started with --dist loadgroup, as scripts/test starts them
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run under xdist --dist loadgroup (scripts/test runs it so)")
    assert request.node.nodeid.endswith("@llama"), request.node.nodeid
