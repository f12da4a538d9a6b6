"""The package's public names exist and the version matches the distribution."""

from __future__ import annotations

from importlib.metadata import version

import plaudit


def test_public_names_are_importable() -> None:
    missing = [name for name in plaudit.__all__ if not hasattr(plaudit, name)]
    assert missing == []
    assert plaudit.__version__ == version("plaudit")


def test_every_error_is_a_plaudit_error() -> None:
    errors = [getattr(plaudit, n) for n in plaudit.__all__
              if isinstance(getattr(plaudit, n), type)
              and issubclass(getattr(plaudit, n), Exception)]
    assert len(errors) >= 8
    assert all(issubclass(e, plaudit.PlauditError) for e in errors)
