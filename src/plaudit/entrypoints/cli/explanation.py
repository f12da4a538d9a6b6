"""How ``plaudit explain`` prints an explanation for a person (``--json`` for programs)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from plaudit.domain.explain import Explanation, ImprovePlan, PlanStep


def explanation(console: Console, x: Explanation, *, ledger_rows: int = 10) -> None:
    band = f" — [bold]{x.band}[/]" if x.band else ""
    console.print(f"[bold]{x.member}[/] as of {x.as_of} (rulebook v{x.rulebook_version})")
    console.print(f"Score [bold cyan]{x.score}[/]{band}  (range {x.range[0]}–{x.range[1]})"
                  + (f"; {x.points_to_next_band} to {x.next_band}" if x.next_band else ""))
    table = Table("factor", "input", "curve position", "points", "of", "lost",
                  title="Factors", title_justify="left")
    for f in x.factors:
        source = f.feature or f.expr or ""
        shown = "no data yet" if f.absent else f"{f.input}"
        table.add_row(f"{f.label}\n[dim]{source}[/]", shown, str(f.curve_value),
                      str(f.points), str(f.max_points), str(f.points_lost))
    console.print(table)
    if x.reasons:
        console.print("[bold]Why not higher[/]")
        for i, r in enumerate(x.reasons, 1):
            console.print(f"  {i}. {r.reason} (−{r.points_lost}) — {r.improve}  "
                          f"[dim]{r.id}[/]")
    if x.plan is not None:
        _plan(console, x.plan)
    console.print(f"\nPoints balance [bold green]{x.balance}[/] "
                  f"({len(x.ledger)} ledger entries)")
    if x.ledger:
        led = Table("at", "kind", "points", "balance", "source",
                    title=f"Latest {min(ledger_rows, len(x.ledger))} entries",
                    title_justify="left")
        for e in x.ledger[-ledger_rows:]:
            led.add_row(e.at, e.kind, f"{e.points:+d}", str(e.balance), e.source)
        console.print(led)


def _plan(console: Console, plan: ImprovePlan) -> None:
    if plan.reachable:
        console.print(f"\n[bold]To reach {plan.band}[/] ({plan.score_needed}):")
    else:
        console.print(f"\n[bold]{plan.band}[/] ({plan.score_needed}) is out of reach for "
                      f"now; the most these changes give is {plan.score_after}:")
    for step in plan.steps:
        console.print(f"  • {_step(step)}")
    if plan.alternatives:
        console.print("  or, on its own:")
        for step in plan.alternatives:
            console.print(f"    – {_step(step)}")


def _step(step: PlanStep) -> str:
    what = step.feature or f"{step.label} ({step.expr})"
    return (f"{what}: {step.current} → {step.target} (+{step.points_gained} points) — "
            f"{step.improve}")


__all__ = ["explanation"]
