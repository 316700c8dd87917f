"""Production mode refuses insecure settings at start-up and runs with good ones."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from temporalio.client import Client

from mcos.infra.auth import issue_dev_token
from mcos.kernel.settings import DEV_JWT_SECRET, Settings
from tests.app.conftest import running_api

GOOD_SECRET = "a-long-production-secret-" + "9" * 24


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the dev secret is the default
        {"jwt_secret": DEV_JWT_SECRET},
        {"auth_mode": "off", "jwt_secret": GOOD_SECRET},
        {"allow_user_header": True, "jwt_secret": GOOD_SECRET},
    ],
)
def test_production_refuses_insecure_settings(overrides: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, env="production", **overrides)


def test_production_refuses_insecure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCOS_ENV", "production")
    monkeypatch.setenv("MCOS_AUTH_MODE", "off")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


async def test_production_app_starts_with_a_good_config(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    prod = Settings(
        **{
            **settings.model_dump(),
            "env": "production",
            "jwt_secret": GOOD_SECRET,
            "log_json": False,
        }
    )
    assert prod.production
    async with running_api(prod, temporal_client) as api:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            assert (await http.get("/health")).status_code == 200
            config = (await http.get("/api/v1/auth/config")).json()
            assert config["mode"] == "production"
            refused = await http.post("/api/v1/auth/dev-token", json={"user_id": user})
            assert refused.status_code == 403
            assert (await http.get("/api/v1/state")).status_code == 401
            assert (await http.get("/api/v1/state", headers={"X-User-Id": user})).status_code == 401
            token = issue_dev_token(user, prod)
            r = await http.get("/api/v1/state", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["seq"] == 0
