"""Duffel's offer-request API (``Duffel-Version: v2``), used by the bundled server with a key."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcos.flights.errors import FlightInputError, FlightToolError
from mcos.flights.models import FlightSearchRequest
from mcos.infra.tls import client_tls

DUFFEL_BASE_URL = "https://api.duffel.com"
DUFFEL_VERSION = "v2"
SUPPLIER_TIMEOUT_MS = 15_000
MAX_OFFERS = 50


class DuffelSettings(BaseSettings):
    """Only the base URL (``MCOS_DUFFEL_BASE_URL``); the key lives in ``mcos.settings``."""

    model_config = SettingsConfigDict(env_prefix="MCOS_DUFFEL_", extra="ignore")

    base_url: str = DUFFEL_BASE_URL


def offer_request_body(request: FlightSearchRequest) -> dict[str, Any]:
    def slice_(origin: str, destination: str, day: str) -> dict[str, Any]:
        item: dict[str, Any] = {"origin": origin, "destination": destination, "departure_date": day}
        if request.departure_time is not None:
            item["departure_time"] = request.departure_time.as_params()
        if request.arrival_time is not None:
            item["arrival_time"] = request.arrival_time.as_params()
        return item

    slices = [slice_(request.origin, request.destination, request.departure_date.isoformat())]
    if request.return_date is not None:
        slices.append(slice_(request.destination, request.origin, request.return_date.isoformat()))
    data: dict[str, Any] = {
        "slices": slices,
        "passengers": [{"type": "adult"} for _ in range(request.adults)],
        "cabin_class": request.cabin_class,
    }
    if request.max_connections is not None:
        data["max_connections"] = request.max_connections
    return {"data": data}


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(str(e.get("message") or e.get("title")) for e in errors) or response.text
    except ValueError:
        return response.text[:300]


async def search_duffel(
    request: FlightSearchRequest,
    *,
    api_key: str,
    base_url: str | None = None,
    timeout_s: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, Any]]:
    """POST an offer request with ``return_offers=true`` and return its offers."""
    url = (base_url or DuffelSettings().base_url).rstrip("/") + "/air/offer_requests"
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Duffel-Version": DUFFEL_VERSION,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    params = {"return_offers": "true", "supplier_timeout": str(SUPPLIER_TIMEOUT_MS)}
    try:
        async with httpx.AsyncClient(
            timeout=timeout_s, transport=transport, verify=client_tls()
        ) as http:
            response = await http.post(
                url, params=params, headers=headers, json=offer_request_body(request)
            )
    except httpx.TimeoutException:
        raise FlightToolError("Duffel did not answer in time.", retryable=True) from None
    except httpx.HTTPError as exc:
        raise FlightToolError(f"Could not reach Duffel: {exc}", retryable=True) from None
    if response.status_code in (400, 422):
        raise FlightInputError(f"Duffel rejected the search: {_error_text(response)}")
    if response.status_code in (401, 403):
        raise FlightToolError(
            f"Duffel refused the API key: {_error_text(response)}", retryable=False
        )
    if response.status_code == 429 or response.status_code >= 500:
        raise FlightToolError(
            f"Duffel is unavailable ({response.status_code}): {_error_text(response)}",
            retryable=True,
        )
    if response.status_code >= 300:
        raise FlightToolError(
            f"Duffel answered {response.status_code}: {_error_text(response)}", retryable=False
        )
    try:
        offers = response.json()["data"]["offers"]
    except (ValueError, KeyError, TypeError):
        raise FlightToolError("Duffel sent a response without offers.", retryable=True) from None
    return list(offers)[:MAX_OFFERS]
