"""A backtest's arithmetic: each member's standing under two rulebooks, compared.

Pure (standard library only), so the statistics are tested without a database. The
application streams members and hands each one's two standings to :class:`Comparison`,
which keeps only counts, one score per member and side (for the quantiles) and the
current largest movers; no fold outlives its member.

Conventions, stated once so the report can be checked by hand:

* quantiles are **nearest rank** (``p``-th = the smallest score with at least ``p`` % of
  scores at or below it), so every quantile is a score some member has;
* the histogram has :data:`BINS` bins of (nearly) equal integer width over the union of
  both rulebooks' score ranges, the same edges on both sides; a bin holds
  ``edge[i] <= score < edge[i + 1]``, the last one also its upper edge;
* adverse impact ratio = a group's selection rate / the highest rate among the groups
  large enough to judge (``min_group`` members), computed exactly with fractions; a ratio
  under 4/5 is flagged (the four-fifths rule). Groups too small are reported, never
  judged and never the reference.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from plaudit.domain.errors import EvaluationError
from plaudit.domain.mechanics.base import condition_names
from plaudit.domain.mechanics.score import score_of

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.rulebook import Rulebook

BINS = 20
QUANTILES = (5, 25, 50, 75, 95)
FOUR_FIFTHS = Fraction(4, 5)
SCHEMA = "plaudit.backtest/1"


class Standing(NamedTuple):
    """What a backtest keeps of one member under one rulebook."""

    score: int | None
    band: str | None
    tier: str | None
    perks: frozenset[str]


def standing(fold: MemberFold, as_of_us: int) -> Standing:
    """Score, band, tier and the perks held at ``as_of_us``: what :meth:`MemberFold.view`
    says of them (a test checks it member by member), without building lots, reasons,
    badges or anything else a backtest does not compare."""
    rb = fold.rulebook
    day = rb.calendar.day(as_of_us)
    feats = fold.features_on(day)
    score, band = score_of(rb, feats) if rb.score is not None else (None, None)
    tier = fold.tiers.tier(fold, day, score).name if fold.tiers is not None else None
    names = condition_names(rb, feats, score, band, tier)
    held = []
    for perk in rb.perks:
        try:
            if perk.when(names):
                held.append(perk.id)
        except EvaluationError:  # as in the view: a perk that cannot be decided is not held
            pass
    return Standing(score, band, tier, frozenset(held))


@dataclass(frozen=True)
class Side:
    """What the report needs to know of one rulebook: names in their order."""

    label: str
    program: str
    version: int | None
    score_range: tuple[int, int] | None
    bands: tuple[str, ...]
    tiers: tuple[str, ...]
    perks: tuple[tuple[str, str], ...]
    """(id, label) in rulebook order."""

    @classmethod
    def of(cls, rulebook: Rulebook, label: str) -> Side:
        sc = rulebook.score
        return cls(label, rulebook.program.id, rulebook.version or None,
                   (sc.low, sc.high) if sc is not None else None,
                   tuple(b.name for b in sc.bands) if sc is not None else (),
                   tuple(lv.name for lv in rulebook.tiers.levels)
                   if rulebook.tiers is not None else (),
                   tuple((p.id, p.label) for p in rulebook.perks))


def bin_edges(before: Side, after: Side, bins: int = BINS) -> list[int] | None:
    """Integer edges over both score ranges (None when neither rulebook has a score)."""
    ranges = [s.score_range for s in (before, after) if s.score_range is not None]
    if not ranges:
        return None
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    bins = max(1, min(bins, hi - lo))
    return [lo + round(i * (hi - lo) / bins) for i in range(bins + 1)]


def histogram(scores: Iterable[int], edges: list[int]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    last = len(counts) - 1
    for s in scores:
        i = _bisect(edges, s)
        counts[min(max(i, 0), last)] += 1
    return counts


def _bisect(edges: list[int], value: int) -> int:
    lo, hi = 0, len(edges) - 1
    while lo < hi:  # the last i with edges[i] <= value
        mid = (lo + hi + 1) // 2
        if edges[mid] <= value:
            lo = mid
        else:
            hi = mid - 1
    return lo


def nearest_rank(ordered: list[int], p: int) -> int:
    """The ``p``-th percentile of sorted scores, nearest-rank."""
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


def score_stats(scores: Iterable[int]) -> dict[str, Any] | None:
    ordered = sorted(scores)
    if not ordered:
        return None
    out: dict[str, Any] = {f"p{p}": nearest_rank(ordered, p) for p in QUANTILES}
    out.update(min=ordered[0], max=ordered[-1],
               mean=round(sum(ordered) / len(ordered), 2), members=len(ordered))
    return out


def matrix(counts: Counter[tuple[str | None, str | None]], rows: tuple[str, ...],
           columns: tuple[str, ...]) -> dict[str, Any]:
    """Counts by (before, after) as a table: every level of each rulebook in order, then
    a ``null`` row or column if some member had none (no score, no tier)."""
    row_labels: list[str | None] = list(rows)
    col_labels: list[str | None] = list(columns)
    for b, a in counts:  # names a rulebook does not list (defensive) go last, sorted
        if b not in row_labels and b is not None:
            row_labels.append(b)
        if a not in col_labels and a is not None:
            col_labels.append(a)
    if any(b is None for b, _ in counts):
        row_labels.append(None)
    if any(a is None for _, a in counts):
        col_labels.append(None)
    table = [[counts.get((r, c), 0) for c in col_labels] for r in row_labels]
    changed = sum(n for (b, a), n in counts.items() if b != a)
    return {"rows": row_labels, "columns": col_labels, "counts": table, "changed": changed}


@dataclass
class _PerkCount:
    before: int = 0
    after: int = 0
    gained: int = 0
    lost: int = 0


class Comparison:
    """Accumulates members' (before, after) standings into the report.

    ``groups`` (member id → group) is the audit cohort, read only here: it decides which
    counters a member adds to and is never joined to a member id in the report (the movers
    list shows ids, not groups).
    """

    def __init__(self, before: Side, after: Side, *, top: int = 10,
                 groups: Mapping[str, str] | None = None, min_group: int = 30) -> None:
        self.before, self.after = before, after
        self.top = top
        self.groups = groups
        self.min_group = min_group
        self.members = 0
        self.changed = 0
        self.scores_before = array("i")  # 4 bytes a member: the quantiles need them all
        self.scores_after = array("i")
        self.unscored = [0, 0]
        self.bands: Counter[tuple[str | None, str | None]] = Counter()
        self.tiers: Counter[tuple[str | None, str | None]] = Counter()
        self.perks: dict[str, _PerkCount] = {
            p: _PerkCount() for p in dict.fromkeys(
                [p for p, _ in before.perks] + [p for p, _ in after.perks])}
        self.ups: list[tuple[int, str, int, int]] = []
        self.downs: list[tuple[int, str, int, int]] = []
        self.deltas = Counter[str]()
        self.delta_sum = 0
        self.group_size: Counter[str] = Counter()
        self.group_held: dict[tuple[str, str], list[int]] = {}
        self.ungrouped = 0
        self.cohort_seen = 0

    def add(self, member: str, b: Standing, a: Standing) -> None:
        self.members += 1
        if b != a:
            self.changed += 1
        for i, (s, scores) in enumerate(((b.score, self.scores_before),
                                         (a.score, self.scores_after))):
            if s is None:
                self.unscored[i] += 1
            else:
                scores.append(s)
        if b.score is not None and a.score is not None:
            delta = a.score - b.score
            self.delta_sum += delta
            self.deltas["up" if delta > 0 else "down" if delta < 0 else "same"] += 1
            if delta > 0:
                self._keep(self.ups, (-delta, member, b.score, a.score))
            elif delta < 0:
                self._keep(self.downs, (delta, member, b.score, a.score))
        self.bands[(b.band, a.band)] += 1
        self.tiers[(b.tier, a.tier)] += 1
        for perk, count in self.perks.items():
            held_b, held_a = perk in b.perks, perk in a.perks
            count.before += held_b
            count.after += held_a
            count.gained += held_a and not held_b
            count.lost += held_b and not held_a
        if self.groups is not None:
            group = self.groups.get(member)
            if group is None:
                self.ungrouped += 1
                return
            self.cohort_seen += 1
            self.group_size[group] += 1
            for perk in self.perks:
                held = self.group_held.setdefault((perk, group), [0, 0])
                held[0] += perk in b.perks
                held[1] += perk in a.perks

    def _keep(self, movers: list[tuple[int, str, int, int]],
              entry: tuple[int, str, int, int]) -> None:
        """Keep the ``top`` largest movers (ties by member id) in bounded memory."""
        movers.append(entry)
        if len(movers) > 4 * self.top + 16:
            movers.sort()
            del movers[self.top:]

    def _movers(self, movers: list[tuple[int, str, int, int]]) -> list[dict[str, Any]]:
        return [{"member": m, "before": b, "after": a, "delta": a - b}
                for _, m, b, a in sorted(movers)[:self.top]]

    def report(self) -> dict[str, Any]:
        edges = bin_edges(self.before, self.after)
        perk_labels = dict(self.after.perks) | {p: lbl for p, lbl in self.before.perks
                                                if p not in dict(self.after.perks)}
        before_ids = {p for p, _ in self.before.perks}
        after_ids = {p for p, _ in self.after.perks}
        scored_both = sum(self.deltas.values())
        return {
            "schema": SCHEMA,
            "members": self.members,
            "changed": self.changed,
            "rulebooks": {"before": _side(self.before), "after": _side(self.after)},
            "score": {
                "before": score_stats(self.scores_before),
                "after": score_stats(self.scores_after),
                "unscored": {"before": self.unscored[0], "after": self.unscored[1]},
                "delta": {"up": self.deltas["up"], "down": self.deltas["down"],
                          "same": self.deltas["same"],
                          "mean": round(self.delta_sum / scored_both, 2)
                          if scored_both else None},
            },
            "histogram": None if edges is None else {
                "edges": edges,
                "before": histogram(self.scores_before, edges),
                "after": histogram(self.scores_after, edges),
            },
            "bands": matrix(self.bands, self.before.bands, self.after.bands),
            "tiers": matrix(self.tiers, self.before.tiers, self.after.tiers),
            "perks": [{"id": p, "label": perk_labels[p], "in_before": p in before_ids,
                       "in_after": p in after_ids, "holders_before": c.before,
                       "holders_after": c.after, "gained": c.gained, "lost": c.lost}
                      for p, c in self.perks.items()],
            "movers": {"up": self._movers(self.ups), "down": self._movers(self.downs)},
            "fairness": self._fairness() if self.groups is not None else None,
        }

    def _fairness(self) -> dict[str, Any]:
        assert self.groups is not None
        groups = sorted(self.group_size)
        judged = [g for g in groups if self.group_size[g] >= self.min_group]
        perks = []
        for perk in self.perks:
            sides: dict[str, Any] = {}
            for i, side in enumerate(("before", "after")):
                rates = {g: Fraction(self.group_held[(perk, g)][i], self.group_size[g])
                         for g in groups}
                best = max((rates[g] for g in judged), default=None)
                reference = next((g for g in judged if rates[g] == best), None)
                rows = []
                for g in groups:
                    ratio = rates[g] / best if best else None
                    is_judged = g in judged
                    rows.append({
                        "group": g, "members": self.group_size[g],
                        "selected": self.group_held[(perk, g)][i],
                        "rate": round(float(rates[g]), 4),
                        "ratio": round(float(ratio), 4) if ratio is not None else None,
                        "judged": is_judged,
                        "flagged": bool(is_judged and ratio is not None
                                        and ratio < FOUR_FIFTHS),
                    })
                sides[side] = {"reference": reference, "groups": rows}
            perks.append({"id": perk, **sides})
        return {
            "threshold": float(FOUR_FIFTHS),
            "min_group": self.min_group,
            "groups": [{"group": g, "members": self.group_size[g],
                        "judged": g in judged} for g in groups],
            "cohort_members": len(self.groups),
            "matched": self.cohort_seen,
            "unknown": len(self.groups) - self.cohort_seen,
            "ungrouped": self.ungrouped,
            "perks": perks,
            "flagged": [{"perk": p["id"], "group": r["group"], "ratio": r["ratio"]}
                        for p in perks for r in p["after"]["groups"] if r["flagged"]],
        }


def _side(side: Side) -> dict[str, Any]:
    return {"label": side.label, "program": side.program, "version": side.version,
            "score_range": list(side.score_range) if side.score_range else None,
            "bands": list(side.bands), "tiers": list(side.tiers),
            "perks": [p for p, _ in side.perks]}


__all__ = ["BINS", "FOUR_FIFTHS", "QUANTILES", "SCHEMA", "Comparison", "Side", "Standing",
           "bin_edges", "histogram", "matrix", "nearest_rank", "score_stats", "standing"]
