"""The one error tree of plaudit.

Every failure a user can cause is a :class:`PlauditError`, so entrypoints map exactly one
family of exceptions to HTTP problems or CLI exit codes::

    PlauditError
    ├── RulebookError        the rulebook cannot be loaded, validated or compiled
    │   └── ExpressionError  one expression is unsafe, ill-typed or names something unknown
    ├── EventRejected        one or more events of a batch are invalid (the batch stored nothing)
    │   ├── EventConflict    an event id is already stored (or repeated) with another body
    │   ├── InsufficientPoints  a spend exceeds the balance available at its time
    │   ├── RedemptionRefused  a redemption (or its cancellation) contradicts the member's
    │   │                    state or the catalogue: requirement, limit, dates, stock
    │   └── MemberOptedOut   an event of a member who has opted out (only withdrawals and
    │                        opting in are accepted while out)
    ├── InvalidRequest       a request parameter is not valid for the rulebook in force
    ├── Conflict             the request contradicts the stored state
    ├── NotFound             an unknown member, rulebook version, …
    ├── Unauthenticated      no credentials, or unknown, expired or revoked ones
    ├── Forbidden            the caller may not see or do this
    ├── TooLarge             the request exceeds a size limit
    ├── UnsupportedMediaType a request body is not in the media type the route takes
    └── StoreError           the database failed in a way the caller cannot fix

Errors carry the context a user needs to fix the input (file, line, field, item index, a
suggestion), never driver internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PlauditError(Exception):
    """Base of every error plaudit raises on purpose."""

    code = "error"

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as its message and attributes, never by calling __init__ again (whose
        # arguments differ by subclass): a fold worker process raises it in the caller.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[PlauditError], args: tuple[object, ...],
             attributes: dict[str, object]) -> PlauditError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(attributes)
    return error


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, precise enough to fix it without reading code."""

    where: str
    """File and line (``rulebook.yaml:12``) or item (``line 7``, ``item 3``)."""
    field: str
    """Dotted path of the offending key or attribute (``points.rules[0].award``)."""
    reason: str
    suggestion: str | None = None

    def __str__(self) -> str:
        text = f"{self.where}: {self.field}: {self.reason}" if self.field else (
            f"{self.where}: {self.reason}"
        )
        if self.suggestion:
            text += f" (did you mean `{self.suggestion}`?)"
        return text

    def as_dict(self) -> dict[str, str | None]:
        return {
            "where": self.where,
            "field": self.field,
            "reason": self.reason,
            "suggestion": self.suggestion,
        }


class RulebookError(PlauditError):
    """The rulebook was refused; ``problems`` lists every reason, each with file and line."""

    code = "rulebook-invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"rulebook refused ({len(self.problems)} problem(s)):\n{lines}")


class ExpressionError(PlauditError):
    """An expression was refused at compile time (raised inside the rulebook compiler)."""

    code = "expression-invalid"

    def __init__(self, reason: str, *, column: int | None = None,
                 suggestion: str | None = None) -> None:
        self.reason = reason
        self.column = column
        self.suggestion = suggestion
        super().__init__(reason)


class EvaluationError(PlauditError):
    """An expression failed while folding (division by zero): the fold records it and goes on."""

    code = "expression-failed"


class EventRejected(PlauditError):
    """A batch was refused; nothing of it was stored. ``problems`` names each bad item."""

    code = "events-rejected"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"\n  … and {more} more"
        super().__init__(f"{len(self.problems)} event(s) rejected, batch not stored:\n{shown}")


class EventConflict(EventRejected):
    """An event id was sent again with a different body: ids are the idempotency keys."""

    code = "event-conflict"


class RedemptionRefused(EventRejected):
    """A reward cannot be redeemed (or a redemption cancelled) as asked; ``event_id`` names
    the event the fold refused, so the batch can name its item."""

    code = "redemption-refused"

    def __init__(self, problems: Sequence[Problem], *, event_id: str | None = None) -> None:
        self.event_id = event_id
        super().__init__(problems)


class MemberOptedOut(EventRejected):
    """An event dated while its member is opted out, other than opting in or a withdrawal:
    nothing of an opted-out member is collected or scored. ``event_id`` names the event
    the fold refused, so the batch can name its item."""

    code = "member-opted-out"

    def __init__(self, problems: Sequence[Problem], *, event_id: str | None = None) -> None:
        self.event_id = event_id
        super().__init__(problems)


class InvalidRequest(PlauditError):
    """A request parameter the rulebook in force does not allow (a consent to a partner no
    perk lists); ``problems`` names it. The HTTP API answers it like any invalid
    parameter."""

    code = "request-invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class Conflict(PlauditError):
    code = "conflict"


class Unauthenticated(PlauditError):
    code = "unauthenticated"


class TooLarge(PlauditError):
    code = "too-large"


class UnsupportedMediaType(PlauditError):
    """A body sent without the media type its route takes (a JSON route and
    ``text/plain``, or no ``Content-Type`` at all); ``problems`` names the header."""

    code = "unsupported-media-type"

    def __init__(self, expected: str, got: str | None) -> None:
        self.problems = [Problem("header", "content-type",
                                 f"expected {expected}, got {got or 'none'}")]
        super().__init__(f"send the body as `Content-Type: {expected}`")


class NotFound(PlauditError):
    code = "not-found"


class Forbidden(PlauditError):
    code = "forbidden"


class InsufficientPoints(EventRejected):
    """A spend the balance at its time does not cover. The fold raises it with the spend's
    ``event_id``; ingest raises it again with ``problems`` naming the batch item and
    ``attributes.points``. An event rejection like any other (the batch stored nothing,
    a file's batch is reported), with a code of its own."""

    code = "insufficient-points"

    def __init__(self, reason: str, *, event_id: str | None = None,
                 problems: Sequence[Problem] = ()) -> None:
        self.reason = reason
        self.event_id = event_id
        self.problems = list(problems)
        head = f"event {event_id}: {reason}" if event_id else reason
        if self.problems:
            head = "spend not covered by the balance, batch not stored"
        PlauditError.__init__(self, "\n  ".join([head, *map(str, self.problems)]))


class StoreError(PlauditError):
    code = "store-error"


__all__ = [
    "Conflict",
    "EvaluationError",
    "EventConflict",
    "EventRejected",
    "ExpressionError",
    "Forbidden",
    "InsufficientPoints",
    "InvalidRequest",
    "MemberOptedOut",
    "NotFound",
    "PlauditError",
    "Problem",
    "RedemptionRefused",
    "RulebookError",
    "StoreError",
    "TooLarge",
    "Unauthenticated",
    "UnsupportedMediaType",
]
