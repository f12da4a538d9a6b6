"""Small builders for domain tests: rulebooks from inline YAML, events from ISO times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from plaudit.domain.calendar import to_us
from plaudit.domain.errors import Problem, RulebookError
from plaudit.domain.events import Event
from plaudit.domain.fold import fold
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import MemberState
from plaudit.rulebook import load_rulebook


def rulebook(body: str, timezone: str = "UTC") -> Rulebook:
    text = f"program: {{id: t, name: Test, timezone: {timezone}}}\n" + body
    return load_rulebook(text, "test.yaml").with_version(1)


def at(iso: str) -> int:
    return to_us(datetime.fromisoformat(iso))


def ev(id_: str, type_: str, when: str, member: str = "m", **attrs: Any) -> Event:
    typed = {k: Decimal(v) if isinstance(v, str) and _numeric(v) else v
             for k, v in attrs.items()}
    return Event(id_, member, type_, at(when), when, typed)


def _numeric(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


PROGRAM = "program: {id: t, name: Test}\n"


def refused(body: str, prefix: str = PROGRAM) -> list[Problem]:
    """The problems a rulebook (``prefix`` + ``body``, named ``rb.yaml``) is refused with."""
    with pytest.raises(RulebookError) as info:
        load_rulebook(prefix + body, "rb.yaml")
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def line_of(body: str, needle: str, prefix: str = PROGRAM) -> str:
    """``rb.yaml:N``: where the first line holding ``needle`` is in the rulebook."""
    n = next(i for i, line in enumerate((prefix + body).splitlines(), 1) if needle in line)
    return f"rb.yaml:{n}"


def state(rb: Rulebook, events: list[Event], as_of: str, member: str = "m") -> MemberState:
    return fold(rb, member, events, at(as_of))


PURCHASES = """
events:
  purchase:
    attributes:
      amount: {type: decimal, min: 0}
      category: {type: enum, values: [books, games]}
      order_id: {type: id}
  refund:
    attributes:
      order_id: {type: id}
"""
