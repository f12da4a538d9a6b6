"""From YAML text to a compiled, linted :class:`~plaudit.domain.rulebook.Rulebook`.

The compiler collects every problem it can find (it does not stop at the first), each with
file, line, dotted field and, where a name is unknown, the closest known one. It refuses by
design, not only by shape:

* free-text attributes (only typed scalars: int, decimal, bool, enum, id, member);
* special categories of personal data (health, religion, political opinion, ethnicity,
  sexual orientation, trade-union membership, biometrics), declared or evident from a name;
* anything that reads another member: ``member`` attributes identify a referred person for
  ``once_per`` and nothing else — no feature, condition or formula may use them;
* unordered or overlapping bands and levels, levels and perks that can never be reached;
* expressions that do not type-check or could exhaust memory (see :mod:`..expressions`).

Layout: :mod:`.source` reads YAML with lines, :mod:`.schema` checks its shape, and each
section compiles in :mod:`.sections` over one shared :class:`~.context.Context` (problems,
declared names, checks, suggestions); :mod:`.privacy` and :mod:`.reach` hold the checks
that are refusals by design.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from pydantic import ValidationError

from plaudit.domain.errors import Problem, RulebookError
from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Rulebook
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context
from plaudit.rulebook.lint import lint
from plaudit.rulebook.sections.badges import compile_badges
from plaudit.rulebook.sections.events import compile_events
from plaudit.rulebook.sections.features import compile_features
from plaudit.rulebook.sections.leaderboards import compile_leaderboards
from plaudit.rulebook.sections.perks import compile_perks
from plaudit.rulebook.sections.points import compile_points
from plaudit.rulebook.sections.program import compile_program
from plaudit.rulebook.sections.quests import compile_quests
from plaudit.rulebook.sections.rewards import compile_rewards
from plaudit.rulebook.sections.score import compile_score
from plaudit.rulebook.sections.streaks import compile_streaks
from plaudit.rulebook.sections.tiers import compile_tiers
from plaudit.rulebook.source import Source, dotted


def load_rulebook(text: str, name: str = "rulebook.yaml") -> Rulebook:
    """Parse, validate, compile and lint a rulebook; raise :class:`RulebookError`."""
    source = Source(text, name)
    try:
        spec = s.RulebookSpec.model_validate(source.plain())
    except ValidationError as e:
        raise RulebookError(_shape_problems(source, e)) from None
    ctx = Context(source, spec)
    rulebook = compile_sections(ctx)
    if ctx.problems or rulebook is None:
        raise RulebookError(ctx.problems)
    return rulebook


def load_rulebook_file(path: str) -> Rulebook:
    with open(path, encoding="utf-8") as f:
        return load_rulebook(f.read(), name=path)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _input_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of a pydantic error location that names keys and indexes in the input.

    pydantic puts union member tags (`str`, `decimal`, `function-after[...]`) into `loc`;
    walking the input alongside tells them apart from real keys, even keys named `streaks`
    or `int`.
    """
    path: list[Any] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and not isinstance(part, int) and (
                "[" not in str(part) and "-" not in str(part)
                and str(part) not in ("str", "int", "decimal", "bool", "float", "none")):
            path.append(part)  # a missing key: the error is about it
            node = None
            continue
        else:
            continue  # a union tag, not part of the input
        path.append(part)
    return tuple(path)


def _shape_problems(source: Source, error: ValidationError) -> list[Problem]:
    problems = []
    data = source.plain()
    for err in error.errors():
        clean = _input_path(data, tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            parent = s.model_at(s.RulebookSpec, clean[:-1])
            keys = s.known_keys(parent) if parent else []
            key = str(clean[-1])
            section = "section" if len(clean) == 1 else "key"
            known = f" (known: {', '.join(keys)})" if keys else ""
            problems.append(Problem(source.where(clean), dotted(clean),
                                    f"unknown {section} `{key}`{known}",
                                    closest(key, keys)))
        elif err["type"] == "missing":
            problems.append(Problem(source.where(clean[:-1]), dotted(clean),
                                    "required key is missing"))
        else:
            problems.append(Problem(source.where(clean), dotted(clean), err["msg"]))
    return problems


def compile_sections(ctx: Context) -> Rulebook | None:
    """Every section in order (each reads what the earlier ones declared); None when any
    problem was found."""
    program = compile_program(ctx)
    compile_events(ctx)
    rules, expire = compile_points(ctx)
    features = compile_features(ctx)
    score = compile_score(ctx)
    tiers = compile_tiers(ctx, score, rules)
    perks = compile_perks(ctx, score, tiers)
    ctx.score, ctx.tiers = score, tiers  # the play sections may test score, band, tier
    rewards = compile_rewards(ctx)
    badges = compile_badges(ctx)
    quests = compile_quests(ctx)
    streaks = compile_streaks(ctx)
    leaderboards = compile_leaderboards(ctx)
    if ctx.problems:
        return None
    aggregates = tuple(sorted(ctx.aggregates.values(), key=lambda a: a.index))
    rulebook = Rulebook(program=program, events=ctx.events, rules=tuple(rules),
                        expire_after_days=expire, aggregates=aggregates,
                        features=tuple(features), score=score, tiers=tiers,
                        perks=tuple(perks), rewards=tuple(rewards), badges=tuple(badges),
                        quests=tuple(quests), streaks=tuple(streaks),
                        leaderboards=tuple(leaderboards),
                        digest=digest(ctx.source.text))
    warnings = lint(ctx.source, rulebook)
    return dataclasses.replace(rulebook, warnings=tuple(warnings)) if warnings else rulebook


__all__ = ["compile_sections", "digest", "load_rulebook", "load_rulebook_file"]
