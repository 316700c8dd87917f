"""REST travel and tools: direct flight search (quota), suggestions, selecting a flight."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.app import skills_scenarios as flows
from tests.app.conftest import Api


async def test_direct_search_suggestion_and_selection(api: Api, user: str) -> None:
    friday = flows.next_weekday(flows.local_today(), 4)
    async with api.client(user) as http:
        r = await http.patch("/api/v1/preferences", json={"home_airport": "SFO"})
        assert r.status_code == 200
        r = await http.post(
            "/api/v1/calendar/event",
            json={
                "title": "Boston trip: client offsite",
                "location": "Boston, MA",
                "start": friday.isoformat(),
                "end": (friday + timedelta(days=2)).isoformat(),
                "all_day": True,
            },
        )
        assert r.status_code in (200, 201), r.text

        r = await http.post(
            "/api/v1/tools/search_flights",
            json={"destination": "Boston", "departure_date": friday.isoformat()},
        )
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["search_id"].startswith("fs_")
        assert found["request"]["origin"] == "SFO" and found["request"]["destination"] == "BOS"
        assert len(found["options"]) == 3 and [r["rank"] for r in found["ranking"]] == [1, 2, 3]
        assert found["options"][0]["id"] == found["ranking"][0]["flight_id"]

        r = await http.get("/api/v1/travel/suggestions")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["latest_search"]["search_id"] == found["search_id"]
        [trip] = body["trips"]
        assert trip["travel"]["start_date"] == friday.isoformat()
        assert trip["flights"]["search_id"] == found["search_id"]
        assert trip["flights"]["options"][0]["rank"] == 1
        assert all(o["reasoning"] for o in trip["flights"]["options"])

        flight_id = found["options"][1]["id"]
        r = await http.post(f"/api/v1/travel/{found['search_id']}/select/{flight_id}")
        assert r.status_code == 200, r.text
        titles = {t["title"] for t in r.json()["follow_up_tasks"]}
        assert "Pack for Boston" in titles and len(titles) == 3

        r = await http.post(f"/api/v1/travel/{found['search_id']}/select/off_nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await http.get("/api/v1/state")
        state = r.json()
        assert state["flight_searches"][0]["selected_flight_id"] == flight_id
        assert sum(t["source"] == "flight" for t in state["tasks"]) == 3


async def test_direct_search_refuses_bad_input_without_counting(api: Api, user: str) -> None:
    today = flows.local_today("UTC")
    async with api.client(user) as http:
        r = await http.post(
            "/api/v1/tools/search_flights",
            json={"destination": "BOS", "departure_date": (today + timedelta(days=9)).isoformat()},
        )
        assert r.status_code == 422 and "airport" in r.json()["error"]["message"].lower()
        cases = [
            {
                "origin": "SFO",
                "destination": "BOS",
                "departure_date": (today - timedelta(days=2)).isoformat(),
            },
            {
                "origin": "SFO",
                "destination": "BOS",
                "departure_date": (today + timedelta(days=9)).isoformat(),
                "return_date": (today + timedelta(days=5)).isoformat(),
            },
            {
                "origin": "SFO",
                "destination": "Atlantis Springs",
                "departure_date": (today + timedelta(days=9)).isoformat(),
            },
        ]
        for case in cases:
            r = await http.post("/api/v1/tools/search_flights", json=case)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "invalid_request", r.text
        state = (await http.get("/api/v1/state")).json()
        assert state["flight_searches"] == []
        assert state["counters"]["usage"]["flight_searches"] == 0


async def test_eleventh_direct_search_of_the_day_is_429(api: Api, user: str) -> None:
    day = (flows.local_today("UTC") + timedelta(days=20)).isoformat()
    async with api.client(user) as http:
        for _ in range(10):
            r = await http.post(
                "/api/v1/tools/search_flights",
                json={"origin": "SFO", "destination": "JFK", "departure_date": day},
            )
            assert r.status_code == 200, r.text
        r = await http.post(
            "/api/v1/tools/search_flights",
            json={"origin": "SFO", "destination": "JFK", "departure_date": day},
        )
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "rate_limited"
    details = error["details"]
    assert details["limit_type"] == "flight_searches_per_day"
    assert (details["limit"], details["current"]) == (10, 11)
    assert details["reset_at"] > time.time() and details["retry_after"] >= 1
    assert r.headers.get("Retry-After")
