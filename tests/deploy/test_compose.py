"""docker-compose.yml can't be started here (no Docker engine): check its properties — start
order by health, healthchecks, restart policies, the setup job (run against a fake CLI),
the dynamic config, the worker's health port, the MCP server in the image."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcos.infra.devserver import DevServer
from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from mcos.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
JOBS = {"temporal-setup"}  # run once to completion
SETUP = ROOT / "deploy" / "temporal" / "setup.sh"


def _resolve(value: str) -> str:
    """${VAR:-default} → default, ${VAR:?msg} → a stand-in secret."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "a-long-production-secret-0123456789", value)


def _env(name: str) -> dict[str, str]:
    return {k: _resolve(v) for k, v in SERVICES[name]["environment"].items()}


def _check_command(name: str) -> str:
    test = SERVICES[name]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck {test!r}"
    return " ".join(test[1:])


def test_scale_out_services_are_all_there() -> None:
    assert {"postgres", "redis", "temporal", "temporal-setup", "temporal-ui", "api",
            "worker"} <= set(SERVICES)  # fmt: skip
    assert SERVICES["api"]["command"] == ["mcos", "api"]
    assert SERVICES["worker"]["command"] == ["mcos", "worker"]
    for name in ("api", "worker"):
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["deploy"]["replicas"] >= 2


def test_every_long_running_service_has_a_healthcheck_and_restarts() -> None:
    for name, service in SERVICES.items():
        if name in JOBS:
            assert service.get("restart") == "no", f"{name} is a job: it must not loop"
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check.get("retries", 3) >= 3 and check.get("interval"), name
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: restart"


def test_start_order_waits_on_health_never_on_mere_start() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for dep, spec in depends.items():
            wanted = ("service_completed_successfully" if dep in JOBS
                      else "service_healthy")  # fmt: skip
            assert spec.get("condition") == wanted, f"{name} → {dep}: {spec}"
            if wanted == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits on {dep}'s health"
    for name in ("api", "worker"):
        assert set(SERVICES[name]["depends_on"]) == {"temporal", "temporal-setup", "redis",
                                                     "postgres"}  # fmt: skip
    assert set(SERVICES["temporal-setup"]["depends_on"]) == {"temporal"}
    assert SERVICES["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_api_is_healthy_when_ready_and_drains_within_its_stop_grace() -> None:
    env = _env("api")
    assert f"127.0.0.1:{env['MCOS_PORT']}/ready" in _check_command("api")
    grace = int(env["MCOS_API_GRACEFUL_SHUTDOWN_S"])
    assert _seconds(SERVICES["api"]["stop_grace_period"]) > grace


def test_the_worker_serves_health_on_its_port_and_drains_within_its_stop_grace() -> None:
    env = _env("worker")
    port = env["MCOS_WORKER_HEALTH_PORT"]
    assert f"127.0.0.1:{port}/health" in _check_command("worker")
    # /metrics on the same port (one setting: no other worker port exists)
    labels = SERVICES["worker"]["labels"]
    assert labels["prometheus.io/port"] == port and labels["prometheus.io/path"] == "/metrics"
    assert SERVICES["worker"]["expose"] == [port]
    assert not [k for k in Settings.model_fields if k.startswith("worker_") and
                k.endswith("_port") and k != "worker_health_port"]  # fmt: skip
    grace = float(env["MCOS_WORKER_GRACEFUL_SHUTDOWN_S"])
    # SIGKILL only after the worker's own grace (Docker's default is 10 s)
    assert _seconds(SERVICES["worker"]["stop_grace_period"]) > grace + 5


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", str(value))
    assert match, value
    return float(match.group(1))


def test_every_mcos_variable_is_a_setting_and_the_config_is_valid_for_production() -> None:
    for name in ("api", "worker"):
        env = _env(name)
        fields = {k.removeprefix("MCOS_").lower() for k in env}
        unknown = fields - set(Settings.model_fields)
        assert not unknown, f"{name}: not settings: {unknown}"
        # The compose file's strings, parsed by the settings as the environment's would be.
        values: dict[str, Any] = {
            k.removeprefix("MCOS_").lower(): v for k, v in env.items() if v != ""
        }
        settings = Settings(_env_file=None, **values)
        assert settings.production and settings.bus_url.startswith("redis://")
        assert settings.sql_url.startswith("postgresql://")
        assert settings.temporal_address == "temporal:7233"
        assert settings.temporal_search_attributes and settings.temporal_connect_timeout_s >= 60


def test_the_cluster_gets_the_dynamic_config_the_dev_server_has() -> None:
    temporal = SERVICES["temporal"]
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in temporal["volumes"]}
    source = ROOT / mounts[f"/etc/temporal/{path}"]
    config = yaml.safe_load(source.read_text())
    dev = DevServer(db_file=None).command()
    dev_values = dict(dev[i + 1].split("=") for i, a in enumerate(dev)
                      if a == "--dynamic-config-value")  # fmt: skip
    assert dev_values, "the dev server sets no dynamic config?"
    for key, value in dev_values.items():
        assert config[key][0]["value"] == int(value), key
    assert config["history.maxInFlightUpdates"][0]["value"] == 50


def _fake_temporal(tmp_path: Path, script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "temporal"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "TEMPORAL_ADDRESS": "temporal:7233",
            "SETUP_WAIT_S": "4", "LOG": str(tmp_path / "calls")}  # fmt: skip


def _run_setup(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    service = SERVICES["temporal-setup"]
    assert service["entrypoint"] == ["/bin/sh", "/setup.sh"]
    assert any(v.startswith("./deploy/temporal/setup.sh:/setup.sh") for v in service["volumes"])
    return subprocess.run(["/bin/sh", str(SETUP)], env=env, capture_output=True, text=True,
                          timeout=30)  # fmt: skip


def test_the_setup_job_waits_for_the_namespace_then_registers_every_attribute(
    tmp_path: Path,
) -> None:
    # the namespace answers on the third try; create works; list shows what was created
    env = _fake_temporal(
        tmp_path,
        """echo "$*" >> "$LOG"
case "$*" in
  *"namespace describe"*) n=$(grep -c "namespace describe" "$LOG"); [ "$n" -ge 3 ] ;;
  *"search-attribute list"*) grep -o -- "--name [A-Za-z]*" "$LOG" ;;
  *) true ;;
esac
""",
    )
    result = _run_setup(env)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls").read_text()
    assert calls.count("namespace describe") == 3
    created = dict(re.findall(r"--name (\w+) --type (\w+)", calls))
    assert created == SEARCH_ATTRIBUTES


@pytest.mark.parametrize("failing", ["namespace", "attribute"])
def test_the_setup_job_fails_loudly(tmp_path: Path, failing: str) -> None:
    if failing == "namespace":  # never comes up: gives up after SETUP_WAIT_S, non-zero
        script = 'echo "$*" >> "$LOG"; exit 1\n'
    else:  # creating McosOpenTasks fails and it is not listed afterwards
        script = """echo "$*" >> "$LOG"
case "$*" in
  *McosOpenTasks*) exit 1 ;;
  *"search-attribute list"*) grep -o -- "--name [A-Za-z]*" "$LOG" | grep -v McosOpenTasks ;;
  *) true ;;
esac
"""
    result = _run_setup(_fake_temporal(tmp_path, script))
    assert result.returncode != 0
    assert ("namespace default not available" if failing == "namespace"
            else "McosOpenTasks is missing") in result.stderr  # fmt: skip


def test_dockerfile_copies_only_paths_that_exist() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for src in line.split()[1:-1]:  # relative to the build context, the repo root
                assert (ROOT / src).exists(), src


def test_the_image_runs_the_google_calendar_mcp_server_without_a_download() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pinned = re.search(r"npm install [^\n]*@cocal/google-calendar-mcp@(\d+\.\d+\.\d+)", dockerfile)
    assert pinned, "the MCP server is installed at a pinned version"
    assert "COPY --from=gcal /usr/local/bin/node /usr/local/bin/node" in dockerfile
    command = re.search(r'MCOS_GOOGLE_CALENDAR_MCP_COMMAND="([^"]+)"', dockerfile)
    assert command
    argv = shlex.split(command.group(1))
    assert argv[0] == "node" and "npx" not in argv
    assert argv[1].startswith("/opt/gcal-mcp/node_modules/@cocal/google-calendar-mcp/")
    assert "COPY --from=gcal /opt/gcal-mcp /opt/gcal-mcp" in dockerfile
    assert "google_calendar_mcp_command" in Settings.model_fields
