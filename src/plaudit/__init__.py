"""plaudit: an open, explainable engine for loyalty and reputation programs.

The public surface for embedding plaudit in Python; everything else is internal and may
change. State is a pure function of events, a rulebook version and an as-of time::

    from plaudit import load_rulebook, fold
    rulebook = load_rulebook(open("rulebook.yaml").read())
    state = fold(rulebook, "m-42", events, as_of_us)
"""

from typing import Any

from plaudit.domain.errors import (
    Conflict,
    EventRejected,
    Forbidden,
    InsufficientPoints,
    InvalidRequest,
    NotFound,
    PlauditError,
    Problem,
    RulebookError,
    StoreError,
)
from plaudit.domain.events import Event
from plaudit.domain.fold import MemberFold, fold
from plaudit.domain.state import MemberState, to_dict
from plaudit.rulebook import load_rulebook

__version__ = "0.1.0"

_LAZY = {"Plaudit": "plaudit.application.service", "bootstrap": "plaudit.bootstrap",
         "Settings": "plaudit.config"}


def __getattr__(name: str) -> Any:
    """Import the service side (SQLAlchemy, Alembic) only when asked: `import plaudit`
    stays light for code that only folds."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'plaudit' has no attribute {name!r}")

__all__ = [
    "Conflict",
    "Event",
    "EventRejected",
    "Forbidden",
    "InsufficientPoints",
    "InvalidRequest",
    "MemberFold",
    "MemberState",
    "NotFound",
    "Plaudit",
    "PlauditError",
    "Problem",
    "RulebookError",
    "Settings",
    "StoreError",
    "bootstrap",
    "fold",
    "load_rulebook",
    "to_dict",
]
