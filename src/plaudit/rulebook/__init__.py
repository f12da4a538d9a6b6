"""Rulebooks: YAML in, a compiled and linted :class:`~plaudit.domain.rulebook.Rulebook` out."""

from plaudit.rulebook.compiler import digest, load_rulebook, load_rulebook_file

__all__ = ["digest", "load_rulebook", "load_rulebook_file"]
