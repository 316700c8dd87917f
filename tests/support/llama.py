"""The real llama.cpp server (PyPI xllamacpp) with the pinned small model, for tests.

One server is shared by the whole session (loading takes seconds, evaluating the app's
full prompt tens of seconds on two cores). Without the model installed the tests that need
it skip with the command that installs it; under CI they fail instead (``.ci/run``
installs it).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from mcos.infra.llamaserver import LlamaServer
from mcos.kernel.settings import Settings
from mcos.llm.local_model import LocalModel, pinned_path, resolve

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(os.environ.get("MCOS_LLM_LOCAL_MODEL_DIR", ROOT / ".cache" / "models"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_local_model() -> LocalModel:
    """The pinned model, sha256 checked; skips (fails under CI) when it is not installed."""
    missing = None
    if importlib.util.find_spec("xllamacpp") is None:
        missing = "xllamacpp is not installed: pip install -e '.[local-llm]'"
    elif not pinned_path(MODEL_DIR).is_file():
        missing = f"the local model is not in {MODEL_DIR}: run `.venv/bin/mcos model install`"
    if missing:
        if IN_CI:
            pytest.fail(f"{missing} (.ci/run installs both)")
        pytest.skip(missing)
    return resolve(Settings(_env_file=None, llm_local_model_dir=MODEL_DIR))


def new_server(model: LocalModel, log_file: Path, ctx: int = 4096) -> LlamaServer:
    return LlamaServer(model, ctx=ctx, log_file=log_file)
