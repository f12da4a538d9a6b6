"""The demo's play: after the synthetic history is ingested, some members use the game.

Kept apart from :mod:`plaudit.synthetic` (which only writes events) because these are
commands through the service, checked like any member's: a redemption the member cannot
afford or is not allowed is refused and skipped, exactly as it would be for a real member.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from plaudit.application.service import Plaudit
from plaudit.domain.errors import PlauditError
from plaudit.synthetic import member_id


@dataclass
class PlayReport:
    redeemed: dict[str, int] = field(default_factory=dict)
    refused: int = 0


def play(service: Plaudit, members: int, *, seed: int = 7,
         progress: Callable[[int, int], object] | None = None) -> PlayReport:
    """A tenth of the members try to redeem a reward of the catalogue (deterministic for
    a seed); returns what was redeemed and how many attempts were refused. ``progress``
    gets (done, total) after each attempt."""
    rng = random.Random(seed)
    report = PlayReport()
    rewards = [r.id for r in service.rulebook().rewards]
    if not rewards:
        return report
    chosen = sorted(rng.sample(range(1, members + 1), max(1, members // 10)))
    for done, i in enumerate(chosen, 1):
        if progress is not None:
            progress(done, len(chosen))
        reward = rng.choice(rewards)
        try:
            service.redeem(member_id(i), reward, f"demo-{reward}-{i}")
        except PlauditError:
            report.refused += 1
        else:
            report.redeemed[reward] = report.redeemed.get(reward, 0) + 1
    return report


__all__ = ["PlayReport", "play"]
