"""docs/cli.md is generated from the commands' --help; it must not drift."""

from __future__ import annotations

from plaudit.entrypoints.cli.reference import render

from ..conftest import ROOT


def test_cli_reference_is_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), (
        "docs/cli.md is stale: run `python -m plaudit.entrypoints.cli.reference > docs/cli.md`")
