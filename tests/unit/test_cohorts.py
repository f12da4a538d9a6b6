"""Audit cohort files: what is accepted, and every refusal naming the line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from plaudit.application.cohorts import (
    MAX_COHORT_BYTES,
    MAX_GROUPS,
    CohortError,
    load_cohorts,
    parse_cohorts,
)


def refused(text: str | bytes, name: str = "c.csv", **kw: bool) -> str:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(CohortError) as e:
        parse_cohorts(data, name, **kw)
    return str(e.value)


def test_csv_with_a_header_and_json_objects_are_read() -> None:
    c = parse_cohorts(b"\xef\xbb\xbfmember_id,region\r\nm-1, north \r\n\r\nm-2,south\n", "c.csv")
    assert (c.groups, c.dimension, c.special_category) == (
        {"m-1": "north", "m-2": "south"}, "region", None)
    j = parse_cohorts(b'{"m-1": "north", "m-2": "south"}', "c.json")
    assert (j.groups, j.dimension) == ({"m-1": "north", "m-2": "south"}, "group")


def test_a_duplicate_member_names_both_lines() -> None:
    assert refused("member_id,region\nm-1,north\nm-2,south\nm-1,east\n") == (
        "c.csv: line 4: member `m-1` is already on line 2")
    assert refused('{"m-1": "a", "m-1": "b"}', "c.json") == "c.json: member `m-1` is given twice"


@pytest.mark.parametrize(("text", "reason"), [
    ("", "c.csv: empty file; expected the header `member_id,group`"),
    ("m-1,north\n", "c.csv: line 1: expected the header `member_id,<group column>`"),
    ("member_id,region,extra\n", "line 1: expected the header"),
    ("member_id,region\nm-1,north,x\n", "c.csv: line 2: 3 columns; expected 2"),
    ("member_id,region\nm-1\n", "c.csv: line 2: 1 columns; expected 2"),
    ("member_id,region\nm-1,\n", "c.csv: line 2: empty group for member `m-1`"),
    ("member_id,region\n,north\n", "c.csv: line 2: empty member id"),
    ("member_id,region\nm 1,north\n", "c.csv: line 2: `m 1` is not a member id"),
    ("member_id,region\nm-1," + "x" * 65 + "\n", "line 2: group must be 1 to 64"),
    ('member_id,region\nm-1,"nor\nth"\n', "c.csv: line 3: group must be 1 to 64 printable"),
    ('member_id,region\nm-1,"north\n', "malformed CSV"),
    ("member_id,region\n", "c.csv: no members"),
])
def test_malformed_csv_is_refused_naming_the_line(text: str, reason: str) -> None:
    assert reason in refused(text)


@pytest.mark.parametrize(("text", "reason"), [
    ('["m-1", "north"]', "expected one JSON object"),
    ('{"m-1": {"nested": "x"}}', "c.json: member `m-1`: member and group must be text"),
    ('{"m-1": 3}', "member and group must be text"),
    ('{"m-1": "a",}', "c.json: line 1: malformed JSON"),
    ("{" * 100_000, "c.json"),
    ("{}", "c.json: no members"),
])
def test_malformed_json_is_refused(text: str, reason: str) -> None:
    assert reason in refused(text, "c.json")


def test_not_text_and_oversized_files_are_refused(tmp_path: Path) -> None:
    assert refused(b"member_id,region\nm-\xff,x\n") == "c.csv: line 2: not UTF-8 text"
    assert "NUL" in refused(b"member_id,region\nm-1,\x00\n")
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(MAX_COHORT_BYTES + 1)
    with pytest.raises(CohortError, match=f"a cohort file is at most {MAX_COHORT_BYTES}"):
        load_cohorts(big)
    with pytest.raises(CohortError, match="cannot read"):
        load_cohorts(tmp_path / "missing.csv")


def test_too_many_groups_would_single_people_out() -> None:
    rows = "".join(f"m-{i},g{i}\n" for i in range(MAX_GROUPS + 1))
    assert f"{MAX_GROUPS + 1} groups; at most {MAX_GROUPS}" in refused("member_id,g\n" + rows)


@pytest.mark.parametrize(("header", "group", "category"), [
    ("ethnicity", "a", "racial or ethnic origin"),
    ("Ethnic origin", "a", "racial or ethnic origin"),
    ("region", "religion_catholic", "religion or belief"),
    ("health status", "x", "health"),
])
def test_special_categories_need_an_explicit_audit_flag(header: str, group: str,
                                                        category: str) -> None:
    text = f"member_id,{header}\nm-1,{group}\n"
    message = refused(text)
    assert f"looks like special-category data ({category})" in message
    assert "--special-category-audit" in message
    allowed = parse_cohorts(text.encode(), "c.csv", allow_special=True)
    assert allowed.special_category == category


def test_ordinary_groupings_pass_the_special_category_check() -> None:
    c = parse_cohorts(b"member_id,age_band\nm-1,18-25\nm-2,healthy_meals\n", "c.csv")
    assert c.special_category is None
