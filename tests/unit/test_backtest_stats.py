"""The backtest's arithmetic on hand-made standings: quantiles, histogram, matrices, movers,
perk counts and adverse impact ratios, checked against numbers worked out by hand."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.backtest import (
    Comparison,
    Side,
    Standing,
    bin_edges,
    histogram,
    nearest_rank,
    score_stats,
)

SIDE = Side("before", "p", 1, (350, 950), ("Poor", "Fair", "Good"), ("Member", "Gold"),
            (("wifi", "Wi-fi"), ("lounge", "Lounge")))
CANDIDATE = Side("after", "p", None, (350, 950), ("Poor", "Fair", "Good"), ("Member", "Gold"),
                 (("wifi", "Wi-fi"), ("spa", "Spa")))


def s(score: int | None, band: str | None = "Fair", tier: str | None = "Member",
      *perks: str) -> Standing:
    return Standing(score, band, tier, frozenset(perks))


def fairness_perk(report: dict[str, Any], perk: str, side: str = "after"
                  ) -> dict[str, dict[str, Any]]:
    f = report["fairness"]
    p = next(p for p in f["perks"] if p["id"] == perk)
    return {g["group"]: g for g in p[side]["groups"]}


def test_adverse_impact_ratio_flags_half_the_rate_and_passes_nine_tenths() -> None:
    # group a: 40 members, 20 hold the perk (rate 1/2, the highest: the reference)
    # group b: 40 members, 10 hold it (rate 1/4: ratio 1/2, flagged)
    # group c: 40 members, 18 hold it (rate 9/20: ratio 9/10, not flagged)
    # group d: 5 members, all hold it (rate 1, but too small to judge or to be the reference)
    groups: dict[str, str] = {}
    c = Comparison(SIDE, SIDE, groups=groups, min_group=30)
    for name, size, held in (("a", 40, 20), ("b", 40, 10), ("c", 40, 18), ("d", 5, 5)):
        for i in range(size):
            member = f"{name}-{i}"
            groups[member] = name
            st_ = s(600, "Fair", "Member", *(["wifi"] if i < held else []))
            c.add(member, st_, st_)
    groups["ghost-1"] = "a"  # in the cohort file, never folded
    c.add("nobody-in-the-file", s(600), s(600))
    report = c.report()
    rows = fairness_perk(report, "wifi")
    assert rows["a"]["ratio"] == 1.0 and not rows["a"]["flagged"]
    assert rows["b"]["rate"] == 0.25 and rows["b"]["ratio"] == 0.5 and rows["b"]["flagged"]
    assert rows["c"]["ratio"] == 0.9 and not rows["c"]["flagged"]
    assert rows["d"]["rate"] == 1.0 and not rows["d"]["judged"] and not rows["d"]["flagged"]
    f = report["fairness"]
    assert next(p for p in f["perks"] if p["id"] == "wifi")["after"]["reference"] == "a"
    assert f["flagged"] == [{"perk": "wifi", "group": "b", "ratio": 0.5}]
    assert (f["matched"], f["unknown"], f["ungrouped"]) == (125, 1, 1)
    assert f["threshold"] == 0.8


def test_a_ratio_of_exactly_four_fifths_is_not_flagged() -> None:
    groups = {f"a{i}": "a" for i in range(30)} | {f"b{i}": "b" for i in range(30)}
    c = Comparison(SIDE, SIDE, groups=groups, min_group=30)
    for i in range(30):  # a: 15/30, b: 12/30 → ratio exactly 0.8
        c.add(f"a{i}", s(600), s(600, "Fair", "Member", *(["wifi"] if i < 15 else [])))
        c.add(f"b{i}", s(600), s(600, "Fair", "Member", *(["wifi"] if i < 12 else [])))
    rows = fairness_perk(c.report(), "wifi")
    assert rows["b"]["ratio"] == 0.8 and not rows["b"]["flagged"]


def test_nobody_selected_gives_no_ratio_and_no_flag() -> None:
    groups = {f"a{i}": "a" for i in range(30)}
    c = Comparison(SIDE, SIDE, groups=groups, min_group=30)
    for m in groups:
        c.add(m, s(600), s(600))
    rows = fairness_perk(c.report(), "wifi")
    assert rows["a"]["ratio"] is None and not rows["a"]["flagged"]


def test_perks_count_gains_and_losses_and_know_new_and_removed_perks() -> None:
    c = Comparison(SIDE, CANDIDATE)
    c.add("m1", s(600, "Fair", "Member", "wifi", "lounge"), s(600, "Fair", "Member", "spa"))
    c.add("m2", s(600, "Fair", "Member", "wifi"), s(600, "Fair", "Member", "wifi"))
    c.add("m3", s(600), s(600, "Fair", "Member", "wifi"))
    perks = {p["id"]: p for p in c.report()["perks"]}
    assert list(perks) == ["wifi", "lounge", "spa"]
    assert perks["wifi"] == {"id": "wifi", "label": "Wi-fi", "in_before": True,
                             "in_after": True, "holders_before": 2, "holders_after": 2,
                             "gained": 1, "lost": 1}
    assert (perks["lounge"]["in_after"], perks["lounge"]["lost"]) == (False, 1)
    assert (perks["spa"]["in_before"], perks["spa"]["gained"]) == (False, 1)


def test_nearest_rank_quantiles_are_scores_members_have() -> None:
    scores = list(range(401, 501))  # 100 scores: p5 is the 5th, p95 the 95th
    stats = score_stats(scores)
    assert stats is not None
    assert (stats["p5"], stats["p25"], stats["p50"], stats["p75"], stats["p95"]) == (
        405, 425, 450, 475, 495)
    assert (stats["min"], stats["max"], stats["mean"]) == (401, 500, 450.5)
    assert score_stats([]) is None
    assert nearest_rank([7], 5) == 7


def test_histogram_edges_cover_both_ranges_and_the_top_score_is_counted() -> None:
    wide = Side("after", "p", None, (300, 1000), (), (), ())
    edges = bin_edges(SIDE, wide)
    assert edges is not None and edges[0] == 300 and edges[-1] == 1000 and len(edges) == 21
    assert histogram([300, 334, 335, 1000], edges) == [2, 1] + [0] * 17 + [1]
    assert bin_edges(Side("b", "p", 1, None, (), (), ()),
                     Side("a", "p", None, None, (), (), ())) is None


def test_members_without_a_score_are_counted_apart() -> None:
    no_score = Side("after", "p", None, None, (), ("Member", "Gold"), ())
    c = Comparison(SIDE, no_score)
    c.add("m1", s(610, "Good", "Gold"), s(None, None, "Gold"))
    r = c.report()
    assert r["score"]["after"] is None and r["score"]["unscored"] == {"before": 0, "after": 1}
    assert r["score"]["delta"] == {"up": 0, "down": 0, "same": 0, "mean": None}
    assert r["bands"]["columns"][-1] is None and r["bands"]["changed"] == 1
    assert r["histogram"]["after"] == [0] * 20


standings = st.builds(
    Standing, st.integers(350, 950),
    st.sampled_from(["Poor", "Fair", "Good", None]), st.sampled_from(["Member", "Gold", None]),
    st.frozensets(st.sampled_from(["wifi", "lounge", "spa"])))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(standings, standings), max_size=200),
       st.integers(min_value=1, max_value=7))
def test_every_table_accounts_for_every_member(pairs: list[tuple[Standing, Standing]],
                                               top: int) -> None:
    c = Comparison(SIDE, CANDIDATE, top=top)
    for i, (b, a) in enumerate(pairs):
        c.add(f"m{i:04d}", b, a)
    r = c.report()
    n = len(pairs)
    assert r["members"] == n
    assert sum(r["histogram"]["before"]) == sum(r["histogram"]["after"]) == n
    assert sum(map(sum, r["bands"]["counts"])) == sum(map(sum, r["tiers"]["counts"])) == n
    assert r["changed"] == sum(b != a for b, a in pairs)
    for p in r["perks"]:
        assert p["holders_after"] - p["holders_before"] == p["gained"] - p["lost"]
    # the bounded movers lists are exactly the top of a full sort (ties by member id)
    deltas = [(a.score - b.score, f"m{i:04d}") for i, (b, a) in enumerate(pairs)]
    up = sorted((d for d in deltas if d[0] > 0), key=lambda d: (-d[0], d[1]))[:top]
    down = sorted(d for d in deltas if d[0] < 0)[:top]
    assert [(m["delta"], m["member"]) for m in r["movers"]["up"]] == up
    assert [(m["delta"], m["member"]) for m in r["movers"]["down"]] == down
