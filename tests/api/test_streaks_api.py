"""`GET /v1/members/{id}/streaks`: the sesame-style on-time-month streak read at as-of times."""

from __future__ import annotations

from typing import Any

import orjson

from plaudit.domain.state import to_dict

from .conftest import Api


def repayment(id_: str, member: str, at: str, days_late: int = 0) -> dict[str, Any]:
    return {"id": id_, "member": member, "type": "repayment", "at": at,
            "attributes": {"amount": "100", "days_late": days_late}}


def streaks(api: Api, member: str, token: str | None = None, **params: Any) -> Any:
    r = api.client.get(f"/v1/members/{member}/streaks", params=params,
                       headers=api.as_(token or api.read))
    assert r.status_code == 200, r.text
    return r.json()


def test_streaks_at_as_of_times(api: Api) -> None:
    r = api.post_events([
        repayment("r1", "m1", "2026-08-10T10:00:00+08:00"),
        repayment("r2", "m1", "2026-09-10T10:00:00+08:00"),
        repayment("r3", "m1", "2026-10-10T10:00:00+08:00", days_late=5),  # not on time
    ])
    assert r.status_code == 201, r.text
    now = streaks(api, "m1")  # the fixed clock: 22 November 2026, 20:00 in Shanghai
    assert [s["id"] for s in now] == ["on-time-month"]
    s = now[0]
    # October was frozen (the July-December freeze); November still lacks its repayment
    assert (s["status"], s["current"], s["longest"], s["frozen"]) == ("at_risk", 2, 2, 1)
    assert (s["freezes_used"], s["freezes_left"]) == (1, 0)
    assert (s["period_start"], s["period_end"]) == ("2026-11-01", "2026-11-30")
    assert s["at_risk_until"] == s["breaks_at"] == "2026-12-01T00:00:00+08:00"
    september = streaks(api, "m1", as_of="2026-09-30T23:00:00+08:00")[0]
    assert (september["status"], september["current"]) == ("active", 2)
    december = streaks(api, "m1", as_of="2026-12-01T00:00:00+08:00")[0]
    assert (december["status"], december["current"], december["longest"]) == (
        "broken", 0, 2)
    assert streaks(api, "m1")[0] == s  # reading changed nothing


def test_streaks_equal_the_canonical_state_and_a_member_reads_its_own(api: Api) -> None:
    api.post_events([repayment("r1", "m2", "2026-11-02T10:00:00+08:00")])
    state = api.svc.member_state("m2")
    assert streaks(api, "m2") == orjson.loads(orjson.dumps(to_dict(state)))["streaks"]
    own = streaks(api, "m2", token=api.token_for("m2"))
    assert own[0]["status"] == "active"
    r = api.client.get("/v1/members/m-nobody/streaks", headers=api.as_(api.read))
    assert r.status_code == 404
