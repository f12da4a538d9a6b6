"""Backtest a candidate rulebook: fold every member's history under it and under the
published rulebook, at the same as-of time, and compare, without writing anything.

Both sides are folded fresh from the same events read in the same page, so the published
rulebook against itself reports zero change by construction; stored state rows are never
read (they reflect each member's last event, not the as-of time, and a re-fold may be
under way). Members are streamed in pages of :data:`PAGE` in member order, one read
transaction per page; each member is folded once per rulebook and only a small
:class:`~plaudit.domain.backtest.Standing` of each fold is kept, so memory is bounded by a
page plus one score per member and side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plaudit.application.cohorts import FAIRNESS_CAVEAT, Cohorts
from plaudit.application.ingest import to_event
from plaudit.application.ports import Store
from plaudit.application.workers import Page, RulebookText, pages, run_pages, workers_for
from plaudit.domain.backtest import Comparison, Side, Standing, standing
from plaudit.domain.fold import fold_events
from plaudit.domain.rulebook import Rulebook

PAGE = 500
DEFAULT_TOP = 10
MAX_TOP = 100
DEFAULT_MIN_GROUP = 30


class BacktestJob:
    """Fold a page of members under both rulebooks at the as-of time: the standings, and
    how many members had no event yet then. Rulebooks are compiled once per process."""

    def __init__(self, sources: tuple[RulebookText, RulebookText] | None, as_of_us: int,
                 compiled: tuple[Rulebook, Rulebook] | None = None) -> None:
        self.sources = sources
        self.as_of_us = as_of_us
        self.rulebooks = compiled

    def __getstate__(self) -> dict[str, Any]:
        return {"sources": self.sources, "as_of_us": self.as_of_us, "rulebooks": None}

    def prepare(self) -> None:
        if self.rulebooks is None:
            assert self.sources is not None
            self.rulebooks = (self.sources[0].compile(), self.sources[1].compile())

    def run(self, store: Store, page: Page) -> tuple[list[tuple[str, Standing, Standing]],
                                                     int]:
        assert self.rulebooks is not None
        with store.read() as tx:
            rows = tx.events_of_members([no for no, _ in page])
        by_no: dict[int, list[Any]] = {no: [] for no, _ in page}
        for no, row in rows:
            if row.at_us <= self.as_of_us:
                by_no[no].append(row)
        del rows
        out: list[tuple[str, Standing, Standing]] = []
        skipped = 0
        for no, member in page:
            stored = by_no.pop(no)
            if not stored:  # no event yet at the as-of time: not a member then
                skipped += 1
                continue
            before, after = (standing(fold_events(rb, member, [to_event(rb, s) for s in stored],
                                                  self.as_of_us), self.as_of_us)
                             for rb in self.rulebooks)
            out.append((member, before, after))
        return out, skipped


def backtest(store: Store, published: Rulebook, candidate: Rulebook, as_of_us: int, *,
             before_label: str, after_label: str, cohorts: Cohorts | None = None,
             min_group: int = DEFAULT_MIN_GROUP, top: int = DEFAULT_TOP,
             progress: Callable[[int, int], Any] | None = None,
             sources: tuple[RulebookText, RulebookText] | None = None,
             workers: int | None = 1) -> dict[str, Any]:
    """The backtest report (see docs/rulebook.md, "Backtesting a rulebook").

    With both rulebooks' ``sources``, pages are folded on ``workers`` processes
    (:mod:`plaudit.application.workers`); members are compared in member order either
    way, so the report is the same."""
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be 1 to {MAX_TOP}")
    if min_group < 1:
        raise ValueError("min_group must be at least 1")
    comparison = Comparison(Side.of(published, before_label), Side.of(candidate, after_label),
                            top=top, groups=cohorts.groups if cohorts else None,
                            min_group=min_group)
    with store.read() as tx:
        total = tx.count_members()
    n = workers_for(total, PAGE, workers) if sources is not None else 1
    job = BacktestJob(sources, as_of_us, (published, candidate))
    done = skipped = 0
    for page_members, page_skipped in run_pages(job, pages(store, None, PAGE), store=store,
                                                workers=n):
        for member, before, after in page_members:
            comparison.add(member, before, after)
        skipped += page_skipped
        done += len(page_members) + page_skipped
        if progress is not None:
            progress(done, total)
    report = comparison.report()
    if report["fairness"] is not None and cohorts is not None:
        report["fairness"]["cohorts"] = cohorts.describe()
        report["fairness"]["caveat"] = FAIRNESS_CAVEAT
    return {"schema": report["schema"], "as_of": published.calendar.iso(as_of_us),
            "top": top, "skipped": skipped} | report


__all__ = ["DEFAULT_MIN_GROUP", "DEFAULT_TOP", "MAX_TOP", "PAGE", "BacktestJob", "backtest"]
