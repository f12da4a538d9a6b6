"""Stored-summary cost: what ingest computes for every member a batch touches.

    python bench/summary.py --events 200000 --members 2000

Folds synthetic sesame-style members (~100 events a year) once, then times, per member,
the stored summary (balance, score, band, tier, consents) at the member's last event and
20 and 200 days later (windows to slide, tier grace to look back over), each part of it
alone, and the full view at the same instants: the baseline, measured in the same run.
Best of three passes; figures go to docs/benchmarks.md. Runs against an older checkout too
(``PYTHONPATH=<checkout>/src python bench/summary.py``), for a before/after in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foldcost import load_events
from ingest import write_events

from plaudit.domain.fold import MemberFold
from plaudit.rulebook import load_rulebook

ROOT = Path(__file__).resolve().parents[1]
DAY_US = 86_400_000_000


def per_member(accs: list[MemberFold], shift: int, work: Callable[[MemberFold, int], Any]
               ) -> float:
    """Best microseconds per member of ``work(acc, as_of_us)`` over three passes."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for acc in accs:
            assert acc.last_key is not None
            work(acc, acc.last_key[0] + shift)
        best = min(best, (time.perf_counter() - started) / len(accs) * 1e6)
    return best


def tier_name(acc: MemberFold, as_of_us: int) -> Any:
    """The tier part of a summary (what code before ``TiersPart.name_on`` computed: the
    whole tier view, so that the bench runs against older checkouts too)."""
    tiers = acc.tiers
    if tiers is None:
        return None
    day = acc.rulebook.calendar.day(as_of_us)
    name_on = getattr(tiers, "name_on", None)
    return name_on(acc, day, 600) if name_on is not None else tiers.tier(acc, day, 600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    rb = load_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        write_events(path, args.events, args.members)
        by_member = load_events(path, rb)
    accs = []
    for member, evs in by_member.items():
        acc = MemberFold(rb, member)
        for e in evs:
            acc.apply(e)
        accs.append(acc)
    day = rb.calendar.day
    parts: dict[str, Callable[[MemberFold, int], Any]] = {
        "summary": lambda a, t: a.summary(t),
        "  score (features included)": lambda a, t: a.score_on(day(t)),
        "  tier": tier_name,
        "  balance": lambda a, t: a.points.ledger.balance_at(t),
        "view (baseline)": lambda a, t: a.view(t),
    }
    shifts = (0, 20, 200)
    print(f"{len(accs):,} members, {sum(len(v) for v in by_member.values()):,} events; "
          "µs per member")
    print(f"{'':<28}" + "".join(f"+{s} days".rjust(12) for s in shifts))
    figures = {name: [per_member(accs, s * DAY_US, work) for s in shifts]
               for name, work in parts.items()}
    for name, row in figures.items():
        print(f"{name:<28}" + "".join(f"{v:12.1f}" for v in row))
    ratios = [s / v for s, v in zip(figures["summary"], figures["view (baseline)"],
                                    strict=True)]
    print(f"{'summary / view':<28}" + "".join(f"{r:12.2f}" for r in ratios))


if __name__ == "__main__":
    main()
