"""Flight search input (the Duffel flights-mcp ``params`` shape) and the normalized option."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mcos.flights.airports import resolve_airport
from mcos.flights.errors import FlightInputError

CabinClass = Literal["economy", "premium_economy", "business", "first"]
TripType = Literal["one_way", "round_trip"]
CABIN_CLASSES: tuple[str, ...] = ("economy", "premium_economy", "business", "first")

_HHMM = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")


class TimeWindow(BaseModel):
    """A local time window ``{"from": "HH:MM", "to": "HH:MM"}``.

    ``from_time``/``to_time`` (the field names some community servers use) are accepted too.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    from_: str = Field(default="00:00", alias="from", pattern=_HHMM.pattern)
    to: str = Field(default="23:59", pattern=_HHMM.pattern)

    @model_validator(mode="before")
    @classmethod
    def _accept_community_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "from" not in data and "from_" not in data and "from_time" in data:
                data["from"] = data["from_time"]
            if "to" not in data and "to_time" in data:
                data["to"] = data["to_time"]
        return data

    def as_params(self) -> dict[str, str]:
        return {"from": self.from_, "to": self.to}

    def contains(self, hhmm: str) -> bool:
        return self.from_.zfill(5) <= hhmm.zfill(5) <= self.to.zfill(5)


class SearchFlightsParams(BaseModel):
    """The tool argument as it arrives over MCP: lenient types, checked by ``validate_request``."""

    model_config = ConfigDict(extra="ignore")

    type: TripType | None = Field(default=None, description="one_way or round_trip")
    origin: str = Field(description="Origin airport IATA code, e.g. SFO")
    destination: str = Field(description="Destination airport IATA code, e.g. BOS")
    departure_date: str = Field(description="Departure date, YYYY-MM-DD")
    return_date: str | None = Field(default=None, description="Return date for round trips")
    cabin_class: str = Field(default="economy", description=", ".join(CABIN_CLASSES))
    adults: int = Field(default=1, description="Number of adult passengers")
    max_connections: int | None = Field(default=None, description="0 for non-stop only")
    departure_time: TimeWindow | None = Field(default=None, description="Departure window")
    arrival_time: TimeWindow | None = Field(default=None, description="Arrival window")


class FlightSearchRequest(BaseModel):
    """A checked search: IATA codes exist, dates parse and are in order."""

    type: TripType = "one_way"
    origin: str = Field(pattern=r"^[A-Z]{3}$")
    destination: str = Field(pattern=r"^[A-Z]{3}$")
    departure_date: date
    return_date: date | None = None
    cabin_class: CabinClass = "economy"
    adults: int = Field(default=1, ge=1, le=9)
    max_connections: int | None = Field(default=None, ge=0, le=2)
    departure_time: TimeWindow | None = None
    arrival_time: TimeWindow | None = None

    @field_validator("origin", "destination")
    @classmethod
    def _known_airport(cls, value: str) -> str:
        from mcos.flights.airports import airport_by_code

        if airport_by_code(value) is None:
            raise ValueError(f"unknown airport code {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FlightSearchRequest:
        if self.origin == self.destination:
            raise ValueError("origin and destination are the same airport")
        if self.return_date is not None and self.return_date < self.departure_date:
            raise ValueError("return_date is before departure_date")
        if self.type == "round_trip" and self.return_date is None:
            raise ValueError("a round trip needs a return_date")
        if self.type == "one_way" and self.return_date is not None:
            raise ValueError("a one-way trip has no return_date")
        return self

    def to_params(self) -> dict[str, Any]:
        """The MCP ``params`` argument (community flights-mcp shape)."""
        params: dict[str, Any] = {
            "type": self.type,
            "origin": self.origin,
            "destination": self.destination,
            "departure_date": self.departure_date.isoformat(),
            "cabin_class": self.cabin_class,
            "adults": self.adults,
        }
        if self.return_date is not None:
            params["return_date"] = self.return_date.isoformat()
        if self.max_connections is not None:
            params["max_connections"] = self.max_connections
        if self.departure_time is not None:
            params["departure_time"] = self.departure_time.as_params()
        if self.arrival_time is not None:
            params["arrival_time"] = self.arrival_time.as_params()
        return params


def _parse_date(value: date | str, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FlightInputError(
            f"I couldn't read the {what} '{value}'. Please give it as YYYY-MM-DD."
        ) from None


def _resolve_code(text: str, what: str) -> str:
    airport = resolve_airport(text)
    if airport is None:
        raise FlightInputError(
            f"I don't know an airport called '{text}'. "
            f"Could you give the {what} city or its 3-letter airport code?"
        )
    return airport.iata


def _window(value: TimeWindow | dict[str, Any] | None, what: str) -> TimeWindow | None:
    if value is None or isinstance(value, TimeWindow):
        return value
    try:
        return TimeWindow.model_validate(value)
    except ValueError:
        raise FlightInputError(
            f"The {what} window must look like {{from: 'HH:MM', to: 'HH:MM'}}."
        ) from None


def validate_request(
    origin: str,
    destination: str,
    departure_date: date | str,
    return_date: date | str | None = None,
    *,
    today: date,
    trip_type: str | None = None,
    cabin_class: str = "economy",
    adults: int = 1,
    max_connections: int | None = None,
    departure_time: TimeWindow | dict[str, Any] | None = None,
    arrival_time: TimeWindow | dict[str, Any] | None = None,
) -> FlightSearchRequest:
    """Check and resolve a search (cities or codes) or raise ``FlightInputError``."""
    origin_code = _resolve_code(origin, "departure")
    destination_code = _resolve_code(destination, "destination")
    if origin_code == destination_code:
        raise FlightInputError(
            f"'{origin}' and '{destination}' are the same airport ({origin_code}); "
            "where would you like to fly to?"
        )
    depart = _parse_date(departure_date, "departure date")
    back = _parse_date(return_date, "return date") if return_date not in (None, "") else None
    if depart < today:
        raise FlightInputError(
            f"The departure date {depart.isoformat()} is in the past (today is "
            f"{today.isoformat()}). Which date did you mean?"
        )
    if back is not None and back < depart:
        raise FlightInputError(
            f"The return date {back.isoformat()} is before the departure date {depart.isoformat()}."
        )
    kind = trip_type or ("round_trip" if back else "one_way")
    if kind not in ("one_way", "round_trip"):
        raise FlightInputError(f"Trip type must be one_way or round_trip, not '{kind}'.")
    if kind == "round_trip" and back is None:
        raise FlightInputError("A round trip needs a return date.")
    if kind == "one_way":
        back = None
    cabin = cabin_class.strip().lower().replace(" ", "_").replace("-", "_")
    if cabin not in CABIN_CLASSES:
        raise FlightInputError(
            f"I don't know the cabin '{cabin_class}'; choose economy, premium economy, "
            "business or first."
        )
    if not 1 <= adults <= 9:
        raise FlightInputError("I can search for 1 to 9 adult passengers.")
    if max_connections is not None and not 0 <= max_connections <= 2:
        raise FlightInputError("Connections must be between 0 (non-stop) and 2.")
    return FlightSearchRequest(
        type=kind,  # type: ignore[arg-type]
        origin=origin_code,
        destination=destination_code,
        departure_date=depart,
        return_date=back,
        cabin_class=cabin,  # type: ignore[arg-type]
        adults=adults,
        max_connections=max_connections,
        departure_time=_window(departure_time, "departure time"),
        arrival_time=_window(arrival_time, "arrival time"),
    )


def validate_params(
    params: SearchFlightsParams | dict[str, Any], *, today: date
) -> FlightSearchRequest:
    """``validate_request`` over an MCP ``params`` object."""
    if isinstance(params, dict):
        try:
            params = SearchFlightsParams.model_validate(params)
        except ValueError as exc:
            raise FlightInputError(f"The flight search parameters are incomplete: {exc}") from None
    return validate_request(
        params.origin,
        params.destination,
        params.departure_date,
        params.return_date,
        today=today,
        trip_type=params.type,
        cabin_class=params.cabin_class,
        adults=params.adults,
        max_connections=params.max_connections,
        departure_time=params.departure_time,
        arrival_time=params.arrival_time,
    )


class FlightOption(BaseModel):
    """One bookable offer, flattened for ranking and display (outbound slice first)."""

    # Answers (travel, direct searches) carry every field: required in the OpenAPI schema.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    airline_code: str
    airline_name: str
    flight_number: str
    origin_code: str
    origin_name: str
    destination_code: str
    destination_name: str
    departure_date: date
    departure_time: str
    departure_at: str
    arrival_date: date
    arrival_time: str
    arrival_at: str
    duration_minutes: int
    stops: int
    baggage: str | int | None = None
    price: float | None = None
    tax: float | None = None
    total: float
    currency: str
    emissions_kg: float | None = None
    cabin_class: str | None = None
    expires_at: str | None = None
    connections: list[str] = Field(default_factory=list)
    return_departure_at: str | None = None
    return_arrival_at: str | None = None
