"""`plaudit rulebook backtest` as a real process: text, JSON keys, the HTML file, cohort
files refused with exit code 2, and drafts as candidates."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import orjson
import pytest

from plaudit.bootstrap import bootstrap
from plaudit.config import Settings
from plaudit.synthetic import generate, member_id

from ..conftest import EXAMPLES
from .test_cli import run

MEMBERS = 40
AS_OF = "2026-06-01"
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded program, shared: a backtest writes nothing (tests that upload a draft
    copy it first)."""
    root = tmp_path_factory.mktemp("backtest")
    home = root / "home"
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    path = root / "events.jsonl"
    with path.open("wb") as f:
        for e in generate(MEMBERS, 120, start=date(2026, 1, 1), seed=9):
            f.write(orjson.dumps(e) + b"\n")
    run(home, "ingest", str(path))
    return home


@pytest.fixture
def stricter(tmp_path: Path) -> Path:
    path = tmp_path / "stricter.yaml"
    path.write_text((EXAMPLES / "sesame-style.yaml").read_text().replace(
        "when: score >= 650", "when: score >= 700"))
    return path


def cohorts(tmp_path: Path, header: str = "member_id,region",
            group: str = HOSTILE) -> Path:
    path = tmp_path / "cohorts.csv"
    escaped = '"' + group.replace('"', '""') + '"'
    rows = [f"{member_id(i)},{escaped if i % 2 else 'plain'}" for i in range(1, MEMBERS + 1)]
    path.write_text("\n".join([header, *rows, "ghost-member,plain"]) + "\n")
    return path


def test_the_published_rulebook_against_itself_changes_nothing(program: Path) -> None:
    out = " ".join(run(program, "rulebook", "backtest", str(EXAMPLES / "sesame-style.yaml"),
                       "--as-of", AS_OF).stdout.split())
    assert f"{MEMBERS} members folded under both; 0 changed" in out
    assert "0 member(s) moved" in out


def test_json_report_keeps_its_documented_keys(program: Path, stricter: Path,
                                               tmp_path: Path) -> None:
    result = run(program, "rulebook", "backtest", str(stricter), "--as-of", AS_OF, "--json",
                 "--cohorts", str(cohorts(tmp_path)), "--min-group", "5", "--top", "3")
    r = orjson.loads(result.stdout)
    assert list(r) == ["schema", "as_of", "top", "skipped", "members", "changed",
                       "rulebooks", "score", "histogram", "bands", "tiers", "perks",
                       "movers", "fairness"]
    assert r["schema"] == "plaudit.backtest/1" and r["members"] == MEMBERS
    assert set(r["rulebooks"]["before"]) == {"label", "program", "version", "score_range",
                                             "bands", "tiers", "perks"}
    assert set(r["score"]) == {"before", "after", "unscored", "delta"}
    assert set(r["score"]["before"]) == {"p5", "p25", "p50", "p75", "p95", "min", "max",
                                         "mean", "members"}
    assert set(r["histogram"]) == {"edges", "before", "after"}
    assert set(r["bands"]) == set(r["tiers"]) == {"rows", "columns", "counts", "changed"}
    assert set(r["perks"][0]) == {"id", "label", "in_before", "in_after", "holders_before",
                                  "holders_after", "gained", "lost"}
    assert set(r["movers"]) == {"up", "down"}
    f = r["fairness"]
    assert set(f) == {"threshold", "min_group", "groups", "cohort_members", "matched",
                      "unknown", "ungrouped", "perks", "flagged", "cohorts", "caveat"}
    assert (f["matched"], f["unknown"], f["ungrouped"]) == (MEMBERS, 1, 0)
    assert set(f["perks"][0]["after"]["groups"][0]) == {
        "group", "members", "selected", "rate", "ratio", "judged", "flagged"}
    lost = next(p for p in r["perks"] if p["id"] == "deposit_free_rental")["lost"]
    assert lost > 0 and r["changed"] == lost
    assert "for this audit only" in result.stderr  # the reminder, kept off stdout


def test_html_report_is_self_contained_and_escapes_names(program: Path, stricter: Path,
                                                         tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    run(program, "rulebook", "backtest", str(stricter), "--as-of", AS_OF, "--html",
        str(report), "--cohorts", str(cohorts(tmp_path)), "--min-group", "5")
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "@import" not in page and "url(" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) >= 4  # histogram, bands, tiers, perks
    for svg in svgs:
        ET.fromstring(svg)  # well-formed: every name was escaped
    assert "screening heuristic" in page


def test_text_report_prints_hostile_names_as_themselves(program: Path, stricter: Path,
                                                        tmp_path: Path) -> None:
    out = run(program, "rulebook", "backtest", str(stricter), "--as-of", AS_OF,
              "--cohorts", str(cohorts(tmp_path, group="[red]x[/red]")),
              "--min-group", "5").stdout
    assert "[red]x[/red]" in out
    assert "screening heuristic" in " ".join(out.split())


@pytest.mark.parametrize(("content", "message"), [
    ("member_id,region\nm-000001,a\nm-000001,b\n",
     "line 3: member `m-000001` is already on line 2"),
    ("member,region\nm-000001,a\n", "line 1: expected the header"),
    ('{"m-000001": ["a"]}', "member and group must be text"),
])
def test_a_bad_cohort_file_exits_2_naming_the_problem(program: Path, stricter: Path,
                                                     tmp_path: Path, content: str,
                                                     message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = run(program, "rulebook", "backtest", str(stricter), "--cohorts", str(path),
                 check=False)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_special_category_groups_need_the_audit_flag(program: Path, stricter: Path,
                                                     tmp_path: Path) -> None:
    path = cohorts(tmp_path, header="member_id,ethnicity", group="a")
    refused = run(program, "rulebook", "backtest", str(stricter), "--cohorts", str(path),
                  check=False)
    assert refused.returncode == 2
    assert "racial or ethnic origin" in refused.stderr
    assert "--special-category-audit" in refused.stderr
    accepted = run(program, "rulebook", "backtest", str(stricter), "--cohorts", str(path),
                   "--special-category-audit", "--as-of", AS_OF).stdout
    assert "special category acknowledged: racial or ethnic origin" in accepted


def test_a_stored_draft_is_a_candidate(program: Path, tmp_path: Path, stricter: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(program, home)
    draft = bootstrap(Settings(home=home, database_url=None)).upload_draft(
        stricter.read_text(), actor="test")
    r = orjson.loads(run(home, "rulebook", "backtest", f"draft:{draft.draft_id}",
                         "--as-of", AS_OF, "--json").stdout)
    assert r["rulebooks"]["after"]["label"] == f"draft:{draft.draft_id}"
    assert next(p for p in r["perks"] if p["id"] == "deposit_free_rental")["lost"] > 0
    missing = run(home, "rulebook", "backtest", "draft:99", check=False)
    assert missing.returncode == 5 and "no rulebook draft 99" in missing.stderr
    for bad in ("draft:x", str(tmp_path / "nope.yaml")):
        assert run(home, "rulebook", "backtest", bad, check=False).returncode == 2
