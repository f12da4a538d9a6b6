"""`plaudit rulebook diff`: changes named by section and path, list items by id or name."""

from __future__ import annotations

import pytest

from plaudit.domain.errors import RulebookError
from plaudit.rulebook.diff import diff_texts

from ..conftest import EXAMPLES

SESAME = (EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8")


def edited(*pairs: tuple[str, str]) -> str:
    text = SESAME
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_the_same_rulebook_has_no_changes() -> None:
    same = diff_texts(SESAME, SESAME, "v1", "v1")
    assert (same.changed, same.summary(), same.text) == (False, ["no changes"], "")
    comments = diff_texts(SESAME, SESAME.replace("# A sketch", "# A draft"), "v1", "v2")
    assert not comments.changed and comments.text  # the text differs, the rules do not
    assert comments.summary() == ["no changes to the rules (only comments or layout differ)"]


def test_each_change_is_named_where_a_program_manager_looks() -> None:
    after = edited(
        ("weight: 35", "weight: 40"),
        ("curve: [[0, 0], [0.8, 0.4], [1, 1]]", "curve: [[0, 0], [0.8, 0.5], [1, 1]]"),
        ("when_absent: {value: 0.3,", "when_absent: {value: 0.4,"),
        ("- {name: Fair, from: 550}", "- {name: Fair, from: 560}"),
        ("- {name: Gold, from: 8000}", "- {name: Gold, from: 9000}"),
        ("    when: score >= 650\n", "    when: score >= 640\n"),
        ("      award: 100\n", "      award: 150\n"),
        ("    cost: 150\n", "    cost: 120\n"),
        ("    levels: [5, 25, 100]", "    levels: [5, 20, 100]"),
        ("    freezes: {max: 1, per: 6 months}\n", ""),
        ("    period: month\n    visibility", "    period: week\n    visibility"),
        ("    goal: {count: purchase, where: 'category == \"books\"', at_least: 3}",
         "    goal: {count: purchase, where: 'category == \"books\"', at_least: 4}"),
    )
    diff = diff_texts(SESAME, after, "v1", "v2")
    assert diff.summary() == [
        "points.rules[verified].award: 100 -> 150",
        "score.factors[repayment_history].weight: 35 -> 40",
        "score.factors[repayment_history].curve: [[0, 0], [0.8, 0.4], [1, 1]] -> "
        "[[0, 0], [0.8, 0.5], [1, 1]]",
        "score.factors[rentals].when_absent.value: 0.3 -> 0.4",
        "score.bands[Fair].from: 550 -> 560",
        "tiers.levels[Gold].from: 8000 -> 9000",
        'perks[deposit_free_rental].when: "score >= 650" -> "score >= 640"',
        "rewards[coffee].cost: 150 -> 120",
        "badges[bookworm].levels: [5, 25, 100] -> [5, 20, 100]",
        "quests[spring-reading].goal.at_least: 3 -> 4",
        "streaks[on-time-month].freezes: removed {max: 1, per: \"6 months\"}",
        "leaderboards[good-spend-monthly].period: \"month\" -> \"week\"",
    ]
    assert diff.sections() == {"points": 1, "score": 4, "tiers": 1, "perks": 1, "rewards": 1,
                               "badges": 1, "quests": 1, "streaks": 1, "leaderboards": 1}
    change = diff.to_json()["changes"][1]
    assert change == {"section": "score", "path": "score.factors[repayment_history].weight",
                      "change": "changed", "before": 35, "after": 40}
    assert "-      weight: 35\n+      weight: 40\n" in diff.text
    assert diff.text.startswith("--- v1\n+++ v2\n")


def test_items_are_matched_by_id_wherever_they_moved() -> None:
    moved = edited(
        ("""  - id: hotel_deposit_waiver
    label: Hotel deposit waived
    when: score >= 600 and tier >= "Silver"
    partners: [partner-hotels]
""", ""),
        ("""  - id: airport_wifi
    label: Free airport wi-fi
    when: tier >= "Gold"
""", """  - id: airport_wifi
    label: Free airport wi-fi
    when: tier >= "Gold"
  - id: free_coffee
    label: Free coffee
    when: score >= 700
  - id: hotel_deposit_waiver
    label: Hotel deposit waived
    when: score >= 600 and tier >= "Silver"
    partners: [partner-hotels]
"""))
    lines = diff_texts(SESAME, moved).summary()
    assert lines == [
        'perks[free_coffee]: added {id: "free_coffee", label: "Free coffee", '
        'when: "score >= 700"}',
        "perks: order changed: deposit_free_rental, hotel_deposit_waiver, airport_wifi -> "
        "deposit_free_rental, airport_wifi, hotel_deposit_waiver",
    ]
    gone = diff_texts(SESAME, edited(("  - id: spring-reader             # neither `when` "
                                      "nor `from`: granted by a quest only\n"
                                      "    label: Spring reader\n", "")))
    assert gone.summary() == ['badges[spring-reader]: removed {id: "spring-reader", '
                              'label: "Spring reader"}']


def test_sections_and_event_types_added_or_removed() -> None:
    no_quests = SESAME.split("\nquests:")[0] + "\nleaderboards:" + \
        SESAME.split("\nleaderboards:")[1]
    diff = diff_texts(SESAME, no_quests)
    assert [(c.path, c.change) for c in diff.changes] == [("quests", "removed")]
    typed = edited(("      on_time: {type: bool}\n", "      on_time: {type: bool}\n"
                                                     "      late_days: {type: int, min: 0}\n"))
    assert diff_texts(SESAME, typed).summary() == [
        "events.rental_returned.attributes.late_days: added {type: \"int\", min: 0}"]


def test_a_value_of_another_type_is_a_change_but_35_is_35_0() -> None:
    assert not diff_texts(SESAME, edited(("weight: 35", "weight: 35.0"))).changed
    flipped = diff_texts("program: {id: p, name: P}\nx: {a: true}\n",
                         "program: {id: p, name: P}\nx: {a: 1}\n")
    assert flipped.summary() == ["x.a: true -> 1"]


def test_a_text_that_is_not_yaml_is_refused_naming_it() -> None:
    with pytest.raises(RulebookError) as refused:
        diff_texts(SESAME, "program: [unclosed\n", "v1", "draft:3")
    assert refused.value.problems[0].where.startswith("draft:3:")
