"""A member's data rights on the command line: ``export``, ``opt-out``, ``opt-in``,
``erase`` (top-level verbs on a member id, like ``member``, ``explain`` and ``ledger``).

Each is a thin wrapper over one use case, recording ``cli:<login>`` as who asked. The
commands are registered on the main app when ``main`` imports this module (at its end),
so main.py does not grow with them.

``erase`` is irreversible, so it asks for the member id to be typed again, and refuses to
run without a terminal to ask on unless ``--yes`` says the caller confirmed already: a
script that pipes into it by mistake gets exit 2 and nothing is erased.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from plaudit.application import export as export_doc
from plaudit.entrypoints.cli.main import _actor, _service, app, err, handles_errors, out

MemberArg = Annotated[str, typer.Argument(help="The operator's member id.")]


@app.command("export")
@handles_errors
def export_member(member_id: MemberArg,
                  output: Annotated[Path | None, typer.Option(
                      "--output", "-o", dir_okay=False,
                      help="Write to this file (created readable by you only) instead of "
                           "standard output.")] = None) -> None:
    """Print everything stored about a member as one JSON document.

    Their state, points statement, leaderboard standing and entries, every stored event,
    token metadata (never secrets), disputes and the partner checks made about them."""
    document = _service().export_member(member_id, actor=_actor())
    data = export_doc.render(document, indent=True) + b"\n"
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    out.print(f"exported {member_id}: {len(document['events'])} events to {output}",
              markup=False, highlight=False)


@app.command("opt-out")
@handles_errors
def opt_out(member_id: MemberArg) -> None:
    """Opt a member out of the program.

    From now on nothing of theirs is scored or accepted but opting in and withdrawals: no
    score, tier or perks, every partner check refused, every consent and leaderboard
    withdrawn. Asking again changes nothing."""
    view = _service().opt_out(member_id, actor=_actor())
    out.print(f"{member_id} is opted out since {view.opted_out_at}: no score, tier or "
              "perks, partner checks refused, consents and leaderboards withdrawn",
              markup=False, highlight=False)


@app.command("opt-in")
@handles_errors
def opt_in(member_id: MemberArg) -> None:
    """Let an opted-out member take part again.

    Their events count from now on; consents and leaderboards stay withdrawn until they
    grant or join again. Asking again changes nothing."""
    _service().opt_in(member_id, actor=_actor())
    out.print(f"{member_id} takes part: events count from now on", markup=False,
              highlight=False)


@app.command("erase")
@handles_errors
def erase(member_id: MemberArg,
          yes: Annotated[bool, typer.Option(
              "--yes", help="Do not ask: the caller has confirmed (needed without a "
                            "terminal).")] = False) -> None:
    """Erase a member for good (asks you to type the member id unless --yes).

    Deletes their events, state, leaderboard entries, tokens, disputes and partner checks.
    Other members' references to them (a referral, a friend) name a random tombstone id
    instead, and those members keep what they earned."""
    if not yes:
        if not sys.stdin.isatty():
            err.print("error: erasing is irreversible and there is no terminal to confirm "
                      "on: pass --yes to erase without asking", markup=False,
                      highlight=False)
            raise typer.Exit(2)
        err.print(f"Erasing {member_id} deletes their events and everything derived from "
                  "them, for good.", markup=False, highlight=False)
        typed = typer.prompt("Type the member id to confirm", default="",
                             show_default=False)
        if typed.strip() != member_id:
            err.print("not erased: what you typed is not the member id", markup=False,
                      highlight=False)
            raise typer.Exit(1)
    done = _service().erase_member(member_id, actor=_actor())
    others = (f"; {done.rewritten} reference(s) in the events of {done.refolded} other "
              "member(s) now name it" if done.rewritten else "")
    out.print(f"erased: {done.events} events and everything derived from them "
              f"(tombstone {done.tombstone}){others}", markup=False, highlight=False)


__all__ = ["erase", "export_member", "opt_in", "opt_out"]
