"""docker-compose.yml can't be started here (no Docker engine): check it structurally."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from mcos.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _resolve(value: str) -> str:
    """${VAR:-default} → default, ${VAR:?msg} → a stand-in secret."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "a-long-production-secret-0123456789", value)


def test_scale_out_services_are_all_there() -> None:
    services = COMPOSE["services"]
    assert {"postgres", "redis", "temporal", "temporal-ui", "api", "worker"} <= set(services)
    assert services["api"]["command"][:2] == ["uvicorn", "app.main:app"]
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert (ROOT / "worker.py").exists() and (ROOT / "app" / "main.py").exists()
    for name in ("api", "worker"):
        assert services[name]["build"] == "."
        assert {"temporal", "redis", "postgres"} <= set(services[name]["depends_on"])


def test_every_mcos_variable_is_a_setting_and_the_config_is_valid_for_production() -> None:
    for name in ("api", "worker"):
        env = {k: _resolve(v) for k, v in COMPOSE["services"][name]["environment"].items()}
        fields = {k.removeprefix("MCOS_").lower() for k in env}
        unknown = fields - set(Settings.model_fields)
        assert not unknown, f"{name}: not settings: {unknown}"
        settings = Settings(
            _env_file=None,
            **{k.removeprefix("MCOS_").lower(): v for k, v in env.items() if v != ""},
        )
        assert settings.production and settings.bus_url.startswith("redis://")
        assert settings.sql_url.startswith("postgresql://")
        assert settings.temporal_address == "temporal:7233"


def test_search_attributes_registered_match_the_workflow() -> None:
    script = " ".join(COMPOSE["services"]["temporal-admin"]["command"])
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    assert registered == SEARCH_ATTRIBUTES


def test_dockerfile_copies_only_paths_that_exist() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for src in line.split()[1:-1]:  # relative to the build context, the repo root
                assert (ROOT / src).exists(), src
