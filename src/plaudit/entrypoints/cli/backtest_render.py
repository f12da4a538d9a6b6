"""The backtest report as rich tables, for a person at a terminal (``--json`` for programs).

Every name from a rulebook or a cohort file goes through :func:`_t` (rich markup escaped):
a group called ``[red]x`` must print as itself.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plaudit.application.cohorts import FAIRNESS_CAVEAT

BAR = 40


def _t(value: object) -> str:
    return "—" if value is None else escape(str(value))


def _signed(n: int | float) -> str:
    return f"+{n}" if n > 0 else str(n)


def report(console: Console, r: dict[str, Any]) -> None:
    before, after = r["rulebooks"]["before"], r["rulebooks"]["after"]
    console.print(f"[bold]Backtest[/] of {_t(after['label'])} against {_t(before['label'])} "
                  f"as of {r['as_of']}")
    console.print(f"{r['members']} members folded under both; [bold]{r['changed']}[/] "
                  f"changed (score, band, tier or perks)"
                  + (f"; {r['skipped']} without events by then" if r["skipped"] else ""))
    _scores(console, r)
    _histogram(console, r)
    _matrix(console, r["bands"], "Bands (rows: before, columns: after)")
    _matrix(console, r["tiers"], "Tiers (rows: before, columns: after)")
    _perks(console, r)
    _movers(console, r)
    if r["fairness"] is not None:
        _fairness(console, r["fairness"])


def _scores(console: Console, r: dict[str, Any]) -> None:
    sc = r["score"]
    if sc["before"] is None and sc["after"] is None:
        console.print("\nNeither rulebook has a score.")
        return
    keys = ["p5", "p25", "p50", "p75", "p95", "min", "max", "mean"]
    table = Table("", *keys, title="Score", title_justify="left")
    for side in ("before", "after"):
        stats = sc[side]
        table.add_row(side, *([str(stats[k]) for k in keys] if stats else ["—"] * len(keys)))
    console.print(table)
    d = sc["delta"]
    unscored = sc["unscored"]
    console.print(f"score up for {d['up']}, down for {d['down']}, same for {d['same']}"
                  + (f" (mean change {_signed(d['mean'])})" if d["mean"] is not None else "")
                  + (f"; without a score: {unscored['before']} before, {unscored['after']} "
                     "after" if unscored["before"] or unscored["after"] else ""))


def _histogram(console: Console, r: dict[str, Any]) -> None:
    h = r["histogram"]
    if h is None:
        return
    top = max([*h["before"], *h["after"], 1])
    table = Table("scores", "before", "", "after", "", title="Histogram",
                  title_justify="left")
    edges = h["edges"]
    for i, (b, a) in enumerate(zip(h["before"], h["after"], strict=True)):
        upper = f"{edges[i + 1]}]" if i == len(edges) - 2 else f"{edges[i + 1]})"
        table.add_row(f"[{edges[i]}, {upper}", str(b), "█" * round(BAR * b / top / 2),
                      str(a), "█" * round(BAR * a / top / 2))
    console.print(table)


def _matrix(console: Console, m: dict[str, Any], title: str) -> None:
    if not m["rows"] and not m["columns"]:
        return
    if m["rows"] == [None] and m["columns"] == [None]:
        return  # neither rulebook has this scale
    table = Table("", *(_t(c) for c in m["columns"]), title=title, title_justify="left",
                  caption=f"{m['changed']} member(s) moved", caption_justify="left")
    for i, (label, row) in enumerate(zip(m["rows"], m["counts"], strict=True)):
        cells = [f"[bold]{n}[/]" if j == i and m["rows"][i] == m["columns"][j]
                 else (str(n) if n else "·") for j, n in enumerate(row)]
        table.add_row(_t(label), *cells)
    console.print(table)


def _perks(console: Console, r: dict[str, Any]) -> None:
    if not r["perks"]:
        return
    table = Table("perk", "before", "after", "gained", "lost", title="Perks",
                  title_justify="left")
    for p in r["perks"]:
        note = "" if p["in_before"] and p["in_after"] else (
            " (new)" if p["in_after"] else " (removed)")
        table.add_row(_t(p["id"]) + note, str(p["holders_before"]), str(p["holders_after"]),
                      f"+{p['gained']}", f"−{p['lost']}")
    console.print(table)


def _movers(console: Console, r: dict[str, Any]) -> None:
    for side, title in (("up", "Largest rises"), ("down", "Largest falls")):
        rows = r["movers"][side]
        if not rows:
            continue
        table = Table("member", "before", "after", "change", title=title, title_justify="left")
        for m in rows:
            table.add_row(_t(m["member"]), str(m["before"]), str(m["after"]),
                          _signed(m["delta"]))
        console.print(table)


def _fairness(console: Console, f: dict[str, Any]) -> None:
    cohorts = f["cohorts"]
    console.print(f"\n[bold]Adverse impact[/] by {_t(cohorts['dimension'])} "
                  f"({_t(cohorts['file'])}): {f['matched']} members grouped, "
                  f"{f['ungrouped']} not in the file, {f['unknown']} in the file but not "
                  f"folded; groups under {f['min_group']} members are not judged.")
    if cohorts["special_category"]:
        console.print(f"[bold yellow]special category acknowledged:[/] "
                      f"{_t(cohorts['special_category'])}")
    for p in f["perks"]:
        table = Table("group", "members", "before", "ratio", "after", "ratio", "",
                      title=f"Perk {_t(p['id'])}", title_justify="left")
        before = {g["group"]: g for g in p["before"]["groups"]}
        for g in p["after"]["groups"]:
            b = before[g["group"]]
            mark = ("[bold red]under 4/5[/]" if g["flagged"] else
                    "too small to judge" if not g["judged"] else "")
            table.add_row(_t(g["group"]), str(g["members"]), f"{b['rate']:.1%}",
                          _t(b["ratio"]), f"{g['rate']:.1%}", _t(g["ratio"]), mark)
        table.caption = (f"reference (most favoured): {_t(p['after']['reference'])} after, "
                         f"{_t(p['before']['reference'])} before")
        table.caption_justify = "left"
        console.print(table)
    flagged = f["flagged"]
    console.print(f"[bold]{len(flagged)}[/] perk/group pair(s) under the four-fifths "
                  "threshold after the change." if flagged else
                  "No judged group is under the four-fifths threshold after the change.")
    console.print(f"[dim]{escape(FAIRNESS_CAVEAT)}[/]")


__all__ = ["report"]
