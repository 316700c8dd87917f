from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from mcos.flights.models import FlightOption
from mcos.flights.rank import rank_options, validate_llm_ranking


def _option(
    fid: str,
    *,
    total: float,
    minutes: int,
    stops: int = 0,
    airline: str = "UA",
    dep: str = "2030-02-01T09:00",
    arr: str = "2030-02-01T17:55",
    cabin: str = "economy",
) -> FlightOption:
    return FlightOption(
        id=fid,
        airline_code=airline,
        airline_name={"UA": "United Airlines", "DL": "Delta Air Lines"}.get(airline, airline),
        flight_number=f"{airline}100",
        origin_code="SFO",
        origin_name="San Francisco",
        destination_code="BOS",
        destination_name="Boston",
        departure_date=date.fromisoformat(dep[:10]),
        departure_time=dep[11:],
        departure_at=dep,
        arrival_date=date.fromisoformat(arr[:10]),
        arrival_time=arr[11:],
        arrival_at=arr,
        duration_minutes=minutes,
        stops=stops,
        total=total,
        currency="USD",
        cabin_class=cabin,
    )


OPTIONS = [
    _option("off_cheap_stop", total=300, minutes=540, stops=1, airline="DL"),
    _option("off_nonstop", total=420, minutes=355),
    _option("off_pricey", total=900, minutes=355, dep="2030-02-01T14:00", arr="2030-02-01T22:55"),
]


def test_ranks_are_complete_ordered_and_bounded() -> None:
    ranked = rank_options(OPTIONS, {}, [])
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert sorted(r.flight_id for r in ranked) == sorted(o.id for o in OPTIONS)
    assert all(0 <= r.score <= 1 for r in ranked)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert ranked[-1].flight_id == "off_pricey"
    assert rank_options([], {}, []) == []


def test_deterministic() -> None:
    prefs = {"budget": 500, "preferred_airlines": ["DL"]}
    assert rank_options(OPTIONS, prefs, []) == rank_options(OPTIONS, prefs, [])


def test_nonstop_preference_beats_cheaper_connection() -> None:
    plain = rank_options(OPTIONS, {}, [])
    nonstop = rank_options(OPTIONS, {"prefer_nonstop": True}, [])
    assert nonstop[0].flight_id == "off_nonstop"
    stop = next(r for r in nonstop if r.flight_id == "off_cheap_stop")
    assert "not non-stop" in stop.reasoning
    assert stop.score < next(r for r in plain if r.flight_id == "off_cheap_stop").score


def test_preferred_airline_and_budget() -> None:
    ranked = rank_options(OPTIONS, {"preferred_airlines": ["Delta Air Lines"], "budget": 350}, [])
    assert ranked[0].flight_id == "off_cheap_stop"
    assert "your preferred airline" in ranked[0].reasoning
    assert "within budget" in ranked[0].reasoning
    over = next(r for r in ranked if r.flight_id == "off_nonstop")
    assert "over your budget of 350" in over.reasoning


def test_the_airline_preference_as_the_chat_stores_it_counts() -> None:
    """ "My favourite airline is Delta" is stored as ``preferred_airline`` (singular)."""
    plain = rank_options(OPTIONS, {}, [])
    ranked = rank_options(OPTIONS, {"preferred_airline": "Delta Air Lines"}, [])
    delta = next(r for r in ranked if "your preferred airline" in r.reasoning)
    assert delta.score > next(r for r in plain if r.flight_id == delta.flight_id).score


def test_calendar_conflict_is_penalised_and_explained() -> None:
    busy = [(datetime(2030, 2, 1, 8, 30), datetime(2030, 2, 1, 10, 0))]
    free = rank_options(OPTIONS, {}, [])
    ranked = rank_options(OPTIONS, {}, busy)
    hit = next(r for r in ranked if r.flight_id == "off_nonstop")
    assert "conflicts with your calendar" in hit.reasoning
    assert hit.score < next(r for r in free if r.flight_id == "off_nonstop").score
    clear = next(r for r in ranked if r.flight_id == "off_pricey")
    assert "no calendar conflict" in clear.reasoning


def test_cabin_and_seat_preferences_in_reasoning() -> None:
    options = [
        _option("off_biz", total=400, minutes=355, cabin="business"),
        _option("off_eco", total=400, minutes=355),
    ]
    ranked = rank_options(options, {"cabin_class": "economy", "seat": "aisle"}, [])
    assert ranked[0].flight_id == "off_eco"
    assert "aisle seat" in ranked[0].reasoning
    assert "business rather than your preferred economy" in ranked[1].reasoning


def test_validate_llm_ranking_accepts_valid_json_text() -> None:
    raw = json.dumps(
        {
            "ranked": [
                {"flight_id": "off_pricey", "rank": 2, "score": 0.4, "reasoning": "late"},
                {"flight_id": "off_nonstop", "rank": 1, "score": 0.9, "reasoning": "non-stop"},
            ]
        }
    )
    ranked = validate_llm_ranking("```json\n" + raw + "\n```", OPTIONS)
    assert ranked is not None
    assert [(r.flight_id, r.rank) for r in ranked] == [("off_nonstop", 1), ("off_pricey", 2)]


def _entry(
    fid: str = "off_nonstop", rank: object = 1, score: object = 0.5, reasoning: object = "ok"
) -> dict:
    return {"flight_id": fid, "rank": rank, "score": score, "reasoning": reasoning}


def test_validate_llm_ranking_rejects_bad_output() -> None:
    bad: list[str | dict[str, Any]] = [
        "not json",
        {"ranked": []},
        {"results": [_entry()]},
        {"ranked": [_entry("off_made_up")]},
        {"ranked": [_entry(), _entry(rank=2)]},  # duplicate id
        {"ranked": [_entry(), _entry("off_pricey", rank=1)]},  # duplicate rank
        {"ranked": [_entry(rank="1")]},
        {"ranked": [_entry(rank=True)]},
        {"ranked": [_entry(score=1.5)]},
        {"ranked": [_entry(score="high")]},
        {"ranked": [_entry(reasoning="")]},
        {"ranked": ["off_nonstop"]},
    ]
    for raw in bad:
        assert validate_llm_ranking(raw, OPTIONS) is None, raw
