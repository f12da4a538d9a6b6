"""What the Spark engine refuses with: plaudit errors, so every entrypoint reports them."""

from __future__ import annotations

from plaudit.domain.errors import PlauditError


class SparkError(PlauditError):
    """Spark is missing, cannot start, or its job failed (the message says which)."""

    code = "spark-error"


class ExportError(PlauditError):
    """A work directory that does not hold what a step needs (the message names it)."""

    code = "spark-export"


__all__ = ["ExportError", "SparkError"]
