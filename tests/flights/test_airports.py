from __future__ import annotations

import pytest

from mcos.flights.airports import airport_by_code, great_circle_km, resolve_airport


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SFO", "SFO"),
        ("sfo", "SFO"),
        ("Boston", "BOS"),
        ("san francisco", "SFO"),
        ("New York", "JFK"),
        ("NYC", "JFK"),
        ("London", "LHR"),
        ("Paris", "CDG"),
        ("Chicago", "ORD"),
        ("Tokyo", "HND"),
        ("Boston, MA", "BOS"),
        ("Zürich", "ZRH"),
        ("Nashville", "BNA"),
        ("Heathrow", "LHR"),
        ("  Denver airport ", "DEN"),
    ],
)
def test_resolve_airport(text: str, code: str) -> None:
    airport = resolve_airport(text)
    assert airport is not None
    assert airport.iata == code


def test_resolve_unknown_returns_none() -> None:
    assert resolve_airport("Atlantis") is None
    assert resolve_airport("") is None
    assert resolve_airport("QQQ") is None


def test_airport_fields() -> None:
    sfo = airport_by_code("sfo")
    assert sfo is not None
    assert sfo.city == "San Francisco"
    assert sfo.country == "US"
    assert sfo.tz == "America/Los_Angeles"
    assert sfo.lat == pytest.approx(37.62, abs=0.01)
    assert airport_by_code("ZZZ") is None


def test_great_circle_distance() -> None:
    sfo, bos = airport_by_code("SFO"), airport_by_code("BOS")
    assert sfo and bos
    assert great_circle_km(sfo, bos) == pytest.approx(4340, rel=0.01)
    assert great_circle_km(sfo, sfo) == 0
