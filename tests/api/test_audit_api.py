"""The audit log over HTTP (admin only, paged newest first, verified on demand), who
published each rulebook version, and rulebook diffs."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from ..conftest import EXAMPLES
from .conftest import Api, purchase

SESAME = (EXAMPLES / "sesame-style.yaml").read_text()


def get(api: Api, path: str, token: str | None = None) -> Any:
    return api.client.get(path, headers=api.as_(token or api.admin))


def key_id(token: str) -> str:
    return token.split("_")[1]


def publish(api: Api, source: str) -> int:
    draft = api.client.post("/v1/drafts", content=source, headers=api.as_(api.admin))
    assert draft.status_code == 201, draft.text
    job = api.client.post(f"/v1/drafts/{draft.json()['draft_id']}/publish",
                          headers=api.as_(api.admin)).headers["location"]
    deadline = time.monotonic() + 30
    while (body := get(api, job).json())["status"] == "running":
        assert time.monotonic() < deadline, "the publish did not finish"
        time.sleep(0.02)
    assert body["status"] == "succeeded", body
    version: int = body["result"]["version"]
    return version


def test_each_request_is_recorded_with_the_key_that_made_it(api: Api) -> None:
    api.post_events([purchase("a1", "m-1")])
    created = api.client.post("/v1/keys", json={"name": "pos", "scopes": ["ingest"]},
                              headers=api.as_(api.admin)).json()
    api.client.delete(f"/v1/keys/{created['key_id']}", headers=api.as_(api.admin))
    token = api.token_for("m-1")
    api.client.post("/v1/members/m-1/disputes", json={"event_id": "a1", "reason": "other"},
                    headers=api.as_(token))
    page = get(api, "/v1/audit?limit=4").json()
    assert [(e["actor"], e["action"]) for e in page["entries"]] == [
        (key_id(token), "dispute.open"),               # the member's own token
        (key_id(api.backend), "token.issue"),
        (key_id(api.admin), "key.revoke"),
        (key_id(api.admin), "key.create"),
    ]
    newest = page["entries"][0]
    assert set(newest) == {"seq", "at", "actor", "action", "subject", "detail", "prev_hash",
                           "hash"}
    assert newest["subject"].startswith("dispute:dsp_")
    assert newest["detail"]["member"].startswith("member:") and "m-1" not in str(page)
    assert page["next"] == page["entries"][-1]["seq"]


def test_pages_go_back_without_gaps_and_filter_by_action(api: Api) -> None:
    for i in range(7):
        api.client.post("/v1/keys", json={"name": f"k{i}", "scopes": ["read"]},
                        headers=api.as_(api.admin))
    seen, before = [], ""
    while True:
        page = get(api, f"/v1/audit?limit=5{before}").json()
        seen += [e["seq"] for e in page["entries"]]
        if page["next"] is None:
            break
        before = f"&before={page['next']}"
    total = len(seen)
    assert seen == list(range(total, 0, -1))           # every entry once, newest first
    created = get(api, "/v1/audit?action=key.create&limit=500").json()["entries"]
    assert len(created) == 6 + 7 and {e["action"] for e in created} == {"key.create"}
    published = get(api, "/v1/audit?action=rulebook.publish").json()["entries"]
    assert [e["subject"] for e in published] == ["rulebook:1"]


def test_bad_queries_are_refused_naming_the_parameter(api: Api) -> None:
    for query, field in (("action=key.creat", "action"), ("limit=0", "limit"),
                         ("limit=501", "limit"), ("before=0", "before"),
                         ("befor=3", "befor")):
        r = get(api, f"/v1/audit?{query}")
        assert r.status_code == 422, (query, r.text)
        assert r.json()["errors"][0]["field"] == field


def test_verify_answers_intact_then_names_the_tampered_entry(api: Api) -> None:
    ok = get(api, "/v1/audit/verify").json()
    entries = ok["entries"]
    assert ok == {"ok": True, "entries": entries, "first_bad": None,
                  "head": {"seq": entries, "hash": ok["head"]["hash"]}}
    with api.svc.store.engine.begin() as conn:  # SQLite: the trigger dropped, as an attacker
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3"))
    bad = get(api, "/v1/audit/verify").json()
    assert bad["ok"] is False and bad["first_bad"]["seq"] == 3
    assert bad["first_bad"]["problem"].startswith("hash mismatch")


def test_rulebook_versions_say_who_published_them(api: Api) -> None:
    version = publish(api, SESAME + "\n# v2\n")
    listed = get(api, "/v1/rulebooks", api.read).json()
    assert [(v["version"], v["published_by"]) for v in listed] == [
        (1, "test"), (version, key_id(api.admin))]
    assert get(api, f"/v1/rulebooks/{version}", api.read).json()["published_by"] == \
        key_id(api.admin)


def test_a_diff_between_versions(api: Api) -> None:
    version = publish(api, SESAME.replace("weight: 35", "weight: 40").replace(
        "    cost: 150\n", "    cost: 120\n"))
    diff = get(api, f"/v1/rulebooks/1/diff/{version}", api.read).json()
    assert diff["changed"] is True and (diff["before"], diff["after"]) == ("v1", "v2")
    assert diff["summary"] == ["score.factors[repayment_history].weight: 35 -> 40",
                               "rewards[coffee].cost: 150 -> 120"]
    assert diff["sections"] == {"score": 1, "rewards": 1}
    assert diff["changes"][1] == {"section": "rewards", "path": "rewards[coffee].cost",
                                  "change": "changed", "before": 150, "after": 120}
    assert "-    cost: 150\n+    cost: 120\n" in diff["text"]
    back = get(api, f"/v1/rulebooks/{version}/diff/1", api.read).json()
    assert back["summary"][0] == "score.factors[repayment_history].weight: 40 -> 35"
    same = get(api, "/v1/rulebooks/2/diff/2", api.read).json()
    assert (same["changed"], same["summary"], same["changes"], same["text"]) == (
        False, ["no changes"], [], "")
    missing = get(api, "/v1/rulebooks/1/diff/9", api.read)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no rulebook version 9 (published: 1 to 2)"
    assert get(api, "/v1/rulebooks/0/diff/1", api.read).status_code == 422
