"""Rich rendering for the CLI: what a person reads, not what a program parses (use --json)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plaudit.application.audit import AuditPage
from plaudit.application.disputes import DisputeView
from plaudit.application.ingest import IngestReport
from plaudit.application.leaderboards import BoardPage
from plaudit.application.ports import KeyRow, RulebookRow
from plaudit.domain.calendar import from_us
from plaudit.domain.state import CatalogueEntry, LedgerEntry, MemberState
from plaudit.rulebook.diff import RulebookDiff

if TYPE_CHECKING:
    from plaudit.application.service import Plaudit
    from plaudit.demo import Links, PlayReport


def leaderboard(console: Console, page: BoardPage) -> None:
    table = Table("rank", "pseudonym", "value", title=f"{page.label} — {page.period}",
                  title_justify="left")
    for s in page.standings:
        table.add_row(str(s.rank), s.pseudonym, str(s.value))
    if not page.standings:
        table.caption = "nobody listed in this period"
    console.print(table)


def disputes(console: Console, views: tuple[DisputeView, ...], next_: int | None) -> None:
    # Compact (no box), whole cells: an id is copied into the next command, and a table
    # that folds ids and codes at 80 columns is worse than one that runs wider.
    table = Table(box=None, pad_edge=False)
    for name in ("id", "member", "event", "reason", "status", "opened", "decided"):
        table.add_column(name, no_wrap=True)
    for v in views:
        table.add_row(v.id, v.member, v.event.id, v.reason, v.status, v.opened_at[:10],
                      (v.decided_at or "")[:10])
    if not views:
        table.caption = "no disputes"
    elif next_ is not None:
        table.caption = f"more: --after {next_}"
    console.print(table)


def member(console: Console, state: MemberState, *, show_history: bool) -> None:
    console.print(f"[bold]{state.member}[/] as of {state.as_of} "
                  f"(rulebook v{state.rulebook_version}, {state.events} events)")
    if state.score is not None:
        sc = state.score
        band = f" — [bold]{sc.band}[/]" if sc.band else ""
        console.print(f"\nScore [bold cyan]{sc.value}[/]{band}  (range {sc.range[0]}–"
                      f"{sc.range[1]})")
        factors = Table("factor", "weight", "input", "curve", "points", "lost",
                        title="Factors", title_justify="left")
        for f in sc.factors:
            factors.add_row(f.label, str(f.weight), str(f.input), str(f.curve_value),
                            str(f.points), str(f.points_lost))
        console.print(factors)
        if sc.reasons:
            console.print("[bold]Why not higher[/]")
            for i, r in enumerate(sc.reasons, 1):
                console.print(f"  {i}. {r.reason} (−{r.points_lost}) — {r.improve}")
    p = state.points
    console.print(f"\nPoints balance [bold green]{p.balance}[/]  (earned {p.earned}, spent "
                  f"{p.spent}, expired {p.expired}, reversed {p.reversed})")
    if p.expiring:
        nxt = p.expiring[0]
        console.print(f"  next expiry: {nxt.points} on {nxt.date}")
    if p.lots:
        lots = Table("awarded", "expires", "rule", "event", "points", "left",
                     title=f"Lots ({len(p.lots)})", title_justify="left")
        for lot in p.lots[-10:]:
            lots.add_row(lot.awarded_at[:10], (lot.expires_at or "never")[:10], lot.rule,
                         lot.event, str(lot.points), str(lot.remaining))
        if len(p.lots) > 10:
            lots.caption = f"newest 10 of {len(p.lots)}; --json lists all"
        console.print(lots)
    if state.tier is not None:
        t = state.tier
        line = f"\nTier [bold magenta]{t.name}[/] ({t.basis.replace('_', ' ')}: {t.value})"
        if t.held_until:
            line += f", kept by grace until {t.held_until} (earned now: {t.earned})"
        console.print(line)
        if t.next is not None:
            console.print(f"  {t.next.missing} more to reach {t.next.name}")
    if state.perks:
        console.print("\n[bold]Perks[/]")
        for perk in state.perks:
            mark = "[green]yes[/]" if perk.eligible else "[dim]no[/]"
            partners = f" (partners: {', '.join(perk.partners)})" if perk.partners else ""
            console.print(f"  {mark}  {perk.label}{partners}")
    if state.redemptions:
        console.print("\n[bold]Redemptions[/]")
        for red in state.redemptions:
            status = (f"cancelled {red.cancelled_at[:10]}, {red.returned} returned"
                      if red.cancelled_at else "redeemed")
            console.print(f"  {red.at[:10]}  {red.label} for {red.points} points — {status} "
                          f"({red.id})", highlight=False)
    if state.streaks:
        _streaks(console, state)
    if state.badges:
        console.print("\n[bold]Badges[/]")
        for b in state.badges:
            level = f" level {b.level} of {b.levels}" if b.levels > 1 else ""
            line = f"  {b.label}{level} — {b.awarded_at[:10]} (event {b.event})"
            if b.progress is not None:
                line += (f"; {b.progress.value} of {b.progress.threshold} for level "
                         f"{b.progress.next_level}")
            console.print(line, highlight=False)
    if state.quests:
        console.print("\n[bold]Quests[/]")
        for q in state.quests:
            done = f", completed {q.completed_at[:10]}" if q.completed_at else ""
            console.print(f"  {q.label} ({q.from_date} to {q.to_date}): {q.status}, "
                          f"{q.goal.kind} {q.progress} of {q.goal.at_least}{done}",
                          highlight=False)
    if show_history and state.awards:
        history = Table("at", "kind", "rule", "event", "points", "note", title="History",
                        title_justify="left")
        for a in state.awards:
            history.add_row(a.at, a.kind, a.rule, a.event, str(a.points), a.note or "")
        console.print(history)
    for w in state.warnings:
        console.print(f"[yellow]warning:[/] {w}")


def _streaks(console: Console, state: MemberState) -> None:
    table = Table("streak", "status", "current", "longest", "this period", "freezes left",
                  "until", title="Streaks", title_justify="left")
    for s in state.streaks:
        until = s.at_risk_until or s.breaks_at or ""
        unit = s.period if s.current == 1 else f"{s.period}s"
        table.add_row(s.label, s.status.replace("_", " "), f"{s.current} {unit}",
                      str(s.longest), f"{s.events_in_period}/{s.at_least} since "
                      f"{s.period_start}", str(s.freezes_left), until[:16])
    console.print(table)


def ingest_report(console: Console, errors: Console, file: Path, report: IngestReport) -> None:
    console.print(f"{file}: {report.lines} lines, {report.stored} events stored, "
                  f"{report.duplicates} duplicates skipped, {report.batches} batch(es)")
    for batch in report.rejected:
        errors.print(f"[bold red]rejected[/] lines {batch.first_line}–{batch.last_line} "
                     f"(nothing of this batch stored):", highlight=False)
        for p in batch.problems[:50]:
            errors.print(f"  {p}", highlight=False, markup=False)
        if len(batch.problems) > 50:
            errors.print(f"  … and {len(batch.problems) - 50} more")


def rulebooks(console: Console, rows: list[RulebookRow]) -> None:
    table = Table("version", "program", "published", "published by", "digest")
    for r in rows:
        published = datetime.fromtimestamp(r.published_us / 1e6, UTC).isoformat(
            timespec="seconds")
        table.add_row(str(r.version), r.program_id, published,
                      r.published_by or "(not recorded)", r.digest[:12])
    console.print(table)


def rulebook_diff(console: Console, diff: RulebookDiff, *, text: bool) -> None:
    """The changes under one heading per section, then (with ``text``) the text diff."""
    console.print(f"[bold]{escape(diff.before)} -> {escape(diff.after)}[/]", highlight=False)
    if not diff.changes:
        console.print(diff.summary()[0], highlight=False)
    counts = diff.sections()
    for section, count in counts.items():
        console.print(f"\n[bold]{escape(section)}[/] ({count} change{'s' if count > 1 else ''})",
                      highlight=False)
        for c in diff.changes:
            if c.section == section:
                console.print(f"  {escape(c.line())}", highlight=False, soft_wrap=True)
    if text and diff.text:
        console.print()
        console.print(diff.text, highlight=False, markup=False, end="")


def audit_entries(console: Console, page: AuditPage) -> None:
    """One line per entry, whole (ids are copied into other commands), columns aligned:
    a table at 80 columns would cut or fold the ids."""
    if not page.entries:
        console.print("no entries")
        return
    rows = [(str(e.seq), e.at[:19], e.actor, e.action, e.subject,
             " ".join(f"{k}={_detail_value(v)}" for k, v in e.detail.items()))
            for e in page.entries]
    head = ("seq", "at", "actor", "action", "subject", "detail")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    for row in [head, *rows]:
        cells = [c.ljust(w) for c, w in zip(row[:5], widths, strict=True)]
        console.print(escape("  ".join([*cells, row[5]]).rstrip()), highlight=False)
    if page.next is not None:
        console.print(f"more: --before {page.next}", highlight=False)


def _detail_value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text[:12] + "…" if len(text) == 64 else text  # a digest: its start is enough


def demo_summary(console: Console, service: Plaudit, report: IngestReport, elapsed: float,
                 home: Path, played: PlayReport | None = None) -> None:
    data = service.summary()
    rate = report.stored / elapsed if elapsed else 0
    console.print(f"\n[bold]Demo program ready[/] in {home}")
    console.print(f"  {data['members']} members, {data['events']} events "
                  f"({rate:,.0f} events/s generated and ingested), rulebook "
                  f"v{data['rulebook_version']}")
    if data["average_score"] is not None:
        console.print(f"  score: average {data['average_score']:.0f}, "
                      f"min {data['min_score']}, max {data['max_score']}")
    rb = service.rulebook()
    band_order = [b.name for b in rb.score.bands] if rb.score else []
    tier_order = [t.name for t in rb.tiers.levels] if rb.tiers else []
    bands = Table("band", "members", title="Bands", title_justify="left")
    for name in band_order:
        bands.add_row(name, str(data["bands"].get(name, 0)))
    tiers = Table("tier", "members", title="Tiers", title_justify="left")
    for name in tier_order:
        tiers.add_row(name, str(data["tiers"].get(name, 0)))
    console.print(bands, tiers)
    console.print(f"  points outstanding: {data['points_outstanding']:,}")
    if played is not None and (played.redeemed or played.refused):
        done = ", ".join(f"{n} × {r}" for r, n in sorted(played.redeemed.items()))
        console.print(f"  redemptions: {done or 'none'} ({played.refused} refused: not "
                      "enough points, a requirement or a limit)")
    if played is not None and played.joined:
        joined = ", ".join(f"{n} on {b}" for b, n in sorted(played.joined.items()))
        console.print(f"  leaderboards: {joined} (opted in; {played.friends} mutual "
                      "friendships)")
        for board in rb.leaderboards:
            page = service.leaderboard(board.id, limit=3)
            top = ", ".join(f"{s.rank}. {s.pseudonym} {s.value}" for s in page.standings)
            console.print(f"  {board.label} ({page.period}): {top or 'nobody yet'}",
                          highlight=False)
    console.print("\nLook at a member:\n"
                  f"  PLAUDIT_HOME={home} plaudit member m-000042\n"
                  f"  PLAUDIT_HOME={home} plaudit member m-000042 --json")


def demo_links(console: Console, base: str, links: Links) -> None:
    console.print(f"\n[bold]Open the demo[/] (serving on {base}; Ctrl-C stops it)")
    console.print("  Member portal, signed in as "
                  f"{links.member}:\n    {base}/portal/signin?token={links.member_token}",
                  highlight=False, soft_wrap=True)
    console.print(f"  Operator console:\n    {base}/console/signin?token={links.operator_key}",
                  highlight=False, soft_wrap=True)
    console.print(f"  API docs:\n    {base}/docs", highlight=False, soft_wrap=True)
    console.print("  The links hold credentials: they sign in whoever opens them.",
                  style="dim")


def keys(console: Console, rows: list[KeyRow]) -> None:
    table = Table("key id", "name", "kind", "scopes / partner", "created (UTC)", "revoked")
    for r in rows:
        table.add_row(r.key_id, r.name, r.kind, r.partner or r.scopes,
                      from_us(r.created_us).strftime("%Y-%m-%d %H:%M"),
                      from_us(r.revoked_us).strftime("%Y-%m-%d %H:%M") if r.revoked_us
                      else "")
    console.print(table)


def catalogue(console: Console, entries: list[CatalogueEntry], member: str | None) -> None:
    table = Table(title="Rewards")
    for col in ("reward", "label", "cost", "limit", "requires", "stock left"):
        table.add_column(col, no_wrap=col in ("reward", "cost", "stock left"))
    if member is not None:
        table.add_column(f"{member} can redeem?")
    for e in entries:
        row = [e.id, e.label, str(e.cost), e.limit or "", e.requires or "",
               "unlimited" if e.stock_left is None else str(e.stock_left)]
        if member is not None:
            row.append("yes" if e.redeemable else f"no: {e.reason}")
        table.add_row(*row)
    console.print(table)


def ledger(console: Console, entries: list[LedgerEntry]) -> None:
    table = Table("at", "kind", "points", "balance", "source", "event", "note",
                  title="Points statement")
    for e in entries:
        table.add_row(e.at, e.kind, f"{e.points:+d}", str(e.balance), e.source, e.event,
                      e.note or "")
    console.print(table)
