"""A factor without data says so: it never states an adverse fact the member did not do.

The issue's case: a member who never rented was told "Late or damaged rental returns
(−42)". With `when_absent` the factor scores a chosen value and says the rulebook's words;
without one it still says "No data yet", and the lint warns the operator.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.fold import fold_events
from plaudit.rulebook import load_rulebook

from .helpers import at, ev, rulebook, state

RENTALS = """
events:
  rental_returned:
    attributes:
      on_time: {type: bool}
  purchase:
    attributes:
      amount: {type: decimal, min: 0}
features:
  clean: {count: rental_returned, where: "on_time", window: 30d}
  bad: {count: rental_returned, where: "not on_time", window: 30d}
  spend: {sum: purchase.amount}
score:
  range: [350, 950]
  factors:
    - id: rentals
      label: Returns rentals on time
      weight: 10
      expr: "clean / (clean + 3 * bad + 1)"
      curve: [[0, 0.3], [1, 1]]
      reason: Late or damaged rental returns
      improve: Return rentals on time
      {absent}
    - id: spend
      label: Spends
      weight: 10
      from: spend
      curve: [[0, 0], [100, 1]]
      reason: Little spending
      improve: Spend more
"""
WITH = RENTALS.replace("{absent}", 'when_absent: {value: 0.5, reason: "No rental history yet"}')
WITHOUT = RENTALS.replace("      {absent}\n", "")


def _reasons(rb, events, as_of="2026-06-30T00:00:00+00:00"):
    s = state(rb, events, as_of)
    assert s.score is not None
    return s.score, {r.factor: r for r in s.score.reasons}


def test_a_member_who_never_rented_is_told_so_and_scored_the_when_absent_value() -> None:
    rb = rulebook(WITH)
    score, reasons = _reasons(rb, [ev("p", "purchase", "2026-06-01T00:00:00+00:00",
                                      amount="100")])
    rentals = next(f for f in score.factors if f.id == "rentals")
    assert rentals.absent and rentals.curve_value == Decimal("0.5")
    assert reasons["rentals"].reason == "No rental history yet"
    assert reasons["rentals"].id == "rentals:no-data"
    assert "Late" not in " ".join(r.reason for r in score.reasons)
    assert score.value == 350 + 300 + 150  # spend full, rentals at 0.5 of 300


def test_a_late_return_is_stated_once_there_is_data() -> None:
    rb = rulebook(WITH)
    score, reasons = _reasons(rb, [ev("r", "rental_returned", "2026-06-01T00:00:00+00:00",
                                      on_time=False)])
    assert not next(f for f in score.factors if f.id == "rentals").absent
    assert reasons["rentals"].reason == "Late or damaged rental returns"
    assert reasons["rentals"].id == "rentals:low"


def test_data_that_leaves_the_window_makes_the_factor_absent_again() -> None:
    rb = rulebook(WITH)
    events = [ev("r", "rental_returned", "2026-01-01T00:00:00+00:00", on_time=False)]
    score, reasons = _reasons(rb, events, "2026-06-30T00:00:00+00:00")
    assert next(f for f in score.factors if f.id == "rentals").absent
    assert reasons["rentals"].id == "rentals:no-data"


def test_without_when_absent_the_reason_is_neutral_and_the_lint_warns() -> None:
    rb = rulebook(WITHOUT)
    _score, reasons = _reasons(rb, [])
    assert reasons["rentals"].reason == "No data yet for “Returns rentals on time”"
    assert reasons["spend"].id == "spend:no-data"
    warned = {w.field: w for w in rb.warnings}
    assert set(warned) == {"score.factors[0]", "score.factors[1]"}
    lines = ("program: x\n" + WITHOUT).splitlines()
    assert warned["score.factors[0]"].where == f"test.yaml:{lines.index('    - id: rentals') + 1}"
    assert "210.0 points lost" in warned["score.factors[0]"].reason  # 0.7 of its 300
    assert "when_absent" in warned["score.factors[0]"].reason


def test_a_when_absent_on_a_factor_without_event_data_is_flagged() -> None:
    text = """program: {id: t, name: T}
features: {}
score:
  factors:
    - id: flat
      label: Flat
      weight: 1
      expr: "1"
      reason: r
      improve: i
      when_absent: {value: 0, reason: never}
"""
    rb = load_rulebook(text, "t.yaml")
    assert [w.field for w in rb.warnings] == ["score.factors[0].when_absent"]


def test_the_shipped_examples_lint_clean() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in [root / "examples/sesame-style.yaml", root / "examples/fitness-club.yaml",
                 root / "src/plaudit/starter.yaml"]:
        rb = load_rulebook(path.read_text(encoding="utf-8"), str(path))
        assert rb.warnings == (), [str(w) for w in rb.warnings]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.booleans(), st.integers(0, 3)),
                max_size=12),
       st.integers(0, 240))
def test_the_stored_summary_and_the_view_agree_on_absence(rentals, as_of_day) -> None:
    """The score the tiers, perks and stored rows use (summary) equals the view's, whatever
    the windows did: absence is decided the same way on both paths."""
    rb = rulebook(WITH)
    base = at("2026-01-01T00:00:00+00:00")
    day = 86_400_000_000
    events = [ev(f"e{i}", "rental_returned" if kind else "purchase",
                 "2026-01-01T00:00:00+00:00", **({"on_time": ok} if kind else
                                                 {"amount": "10"}))
              for i, (_, ok, kind) in enumerate(rentals)]
    events = [e.__class__(e.id, e.member, e.type, base + d * day, e.at, e.attributes)
              for e, (d, _, _) in zip(events, rentals, strict=True)]
    last = max((e.at_us for e in events), default=base)
    as_of = max(last, base + as_of_day * day)
    acc = fold_events(rb, "m", events, as_of)
    view = acc.view(as_of)
    summary = acc.summary(as_of)
    assert view.score is not None
    assert summary.score == view.score.value
    assert 350 <= summary.score <= 950


def test_a_perk_answer_holds_for_its_valid_for_bounded_to_a_day() -> None:
    from .helpers import refused

    base = ("score:\n  factors:\n    - {id: f, label: F, weight: 1, expr: '1', reason: r, "
            "improve: i}\nperks:\n  - {id: p, label: P, when: score > 400, partners: [x]")
    assert rulebook(base.replace("program: x", "") + "}\n").perks[0].valid_for_s == 3600
    assert rulebook(base + ", valid_for: 30m}\n").perks[0].valid_for_s == 1800
    for bad in ("30s", "2d", "soon", "0h"):
        problems = refused(base + f", valid_for: {bad}}}\n")
        assert [p.field for p in problems] == ["perks[0].valid_for"], bad
        assert "1m to 24h" in problems[0].reason
