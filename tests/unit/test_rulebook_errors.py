"""Rulebooks: both examples load; every refusal names file, line, field and a suggestion."""

from __future__ import annotations

import pytest

from plaudit.domain.errors import Problem, RulebookError
from plaudit.rulebook import load_rulebook

from ..conftest import BILLION_LAUGHS, EXAMPLES, HANG, within

SESAME = (EXAMPLES / "sesame-style.yaml").read_text()


@pytest.mark.parametrize("name", ["sesame-style.yaml", "fitness-club.yaml"])
def test_examples_load(name: str) -> None:
    rb = load_rulebook((EXAMPLES / name).read_text(), name)
    assert rb.score is not None and rb.tiers is not None and rb.perks


def refused(text: str) -> list[Problem]:
    with pytest.raises(RulebookError) as info:
        load_rulebook(text, "rb.yaml")
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_unknown_section_is_refused_not_ignored() -> None:
    text = SESAME + "\nbadgez:\n  - {id: b, label: B, when: verified}\n"
    p = only(refused(text))
    assert (p.where, p.field) == (f"rb.yaml:{line_of(text, 'badgez:')}", "badgez")
    assert "unknown section `badgez`" in p.reason
    assert p.suggestion == "badges"
    text = SESAME.replace("\npoints:", "\npointz:")
    p = next(p for p in refused(text) if p.field == "pointz")
    assert p.suggestion == "points"


def test_unknown_key_in_a_rule_suggests_the_closest() -> None:
    text = SESAME.replace("      once: true", "      onse: true")
    p = only(refused(text))
    assert p.field == "points.rules[2].onse"
    assert p.where == f"rb.yaml:{line_of(text, 'onse: true')}"
    assert p.suggestion == "once"


def test_free_text_is_refused() -> None:
    text = SESAME.replace("order_id: {type: id}\n  refund", "order_id: {type: id}\n"
                          "      note: {type: string}\n  refund", 1)
    p = only(refused(text))
    assert p.field == "events.purchase.attributes.note.type"
    assert "free text" in p.reason
    assert p.where == f"rb.yaml:{line_of(text, 'note: {type: string}')}"


@pytest.mark.parametrize(("attribute", "category"), [
    ("religion: {type: enum, values: [a, b]}", "religion"),
    ("blood_type: {type: enum, values: [a, b], data_category: health}", "health"),
    ("ethnicity: {type: id}", "ethnic"),
    ("union_member: {type: bool}", "trade union"),
    ("fingerprint_hash: {type: id}", "biometric"),
    ("party: {type: id, data_category: political opinion}", "political"),
])
def test_special_category_data_is_refused(attribute: str, category: str) -> None:
    text = SESAME.replace("      method: {type: enum", f"      {attribute}\n      method: "
                          "{type: enum", 1)
    p = only(refused(text))
    assert category in p.reason
    assert "plaudit does not take it" in p.reason


def test_features_may_not_read_other_members() -> None:
    text = SESAME.replace("  member_days: {days_since_first: any}",
                          "  friends: {distinct: referral.referred}")
    p = only(refused(text))
    assert p.field == "features.friends.distinct"
    assert "another member" in p.reason
    assert p.where == f"rb.yaml:{line_of(text, 'friends:')}"


def test_member_attributes_are_not_usable_in_expressions() -> None:
    text = SESAME.replace("      once_per: referred", "      once_per: referred\n"
                          '      when: referred == "m-1"')
    p = only(refused(text))
    assert "unknown name `referred`" in p.reason


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("{name: Good, from: 600}", "{name: Good, from: 540}", "increasing order"),
    ("{name: Good, from: 600}", "{name: Good, from: 550}", "increasing order"),
    ("{name: Poor, from: 350}", "{name: Poor, from: 400}", "must start at 350"),
    ("{name: Excellent, from: 700}", "{name: Excellent, from: 990}", "never be reached"),
])
def test_bands_must_be_ordered_reachable_and_cover_the_range(old: str, new: str,
                                                              reason: str) -> None:
    text = SESAME.replace(old, new)
    p = only(refused(text))
    assert reason in p.reason
    assert p.where == f"rb.yaml:{line_of(text, new)}"


def test_unreachable_perks_are_refused() -> None:
    text = SESAME.replace('when: tier >= "Gold"', 'when: tier > "Gold"')
    p = only(refused(text))
    assert "can never be reached" in p.reason and p.field == "perks[2].when"
    text = SESAME.replace("when: score >= 650", "when: score >= 1000")
    assert "can never be reached" in only(refused(text)).reason
    text = SESAME.replace("when: score >= 650", "when: score >= 700 and score < 600")
    assert "can never be reached" in only(refused(text)).reason


def test_score_tier_level_above_the_range_is_unreachable() -> None:
    fitness = (EXAMPLES / "fitness-club.yaml").read_text()
    text = fitness.replace("{name: Black, from: 800}", "{name: Black, from: 1000}")
    assert "can never be reached" in only(refused(text)).reason


def test_expression_errors_name_the_field_and_suggest() -> None:
    text = SESAME.replace("award: floor(amount)", "award: floor(amout)")
    p = only(refused(text))
    assert p.field == "points.rules[0].award"
    assert p.suggestion == "amount"
    text = SESAME.replace('where: \'category == "books"\'', 'where: \'category == "book"\'', 1)
    assert only(refused(text)).suggestion == "books"
    text = SESAME.replace("award: floor(amount)", 'award: category * 3')
    assert "numbers only" in only(refused(text)).reason


def test_unknown_event_type_in_a_rule() -> None:
    text = SESAME.replace("on: refund", "on: refnd")
    p = only(refused(text))
    assert (p.field, p.suggestion) == ("points.rules[1].on", "refund")


def test_curve_must_increase() -> None:
    text = SESAME.replace("curve: [[0, 0], [0.8, 0.4], [1, 1]]",
                          "curve: [[0, 0], [0.8, 0.4], [0.5, 1]]")
    assert "must increase" in only(refused(text)).reason


def test_all_problems_are_reported_at_once() -> None:
    text = SESAME.replace("on: refund", "on: refnd").replace("floor(amount)", "floor(x)")
    assert len(refused(text)) == 2


def test_not_yaml_names_the_line() -> None:
    p = only(refused("program: {id: x, name: y}\nevents: [\n"))
    assert p.where.startswith("rb.yaml:") and "not valid YAML" in p.reason


def test_member_attribute_cannot_tie_a_reversal() -> None:
    text = SESAME.replace("      once_per: referred            # and never for referring yourself",
                        "      once_per: referred\n    - id: referral-undone\n"
                        "      on: referral\n      reverses: referral\n      match: referred")
    p = only(refused(text))
    assert p.field == "points.rules[4].match" and "another member" in p.reason


@pytest.mark.parametrize("section", ["streakz", "strength", "interval", "int"])
def test_unknown_sections_are_named_whatever_they_are_called(section: str) -> None:
    text = SESAME + f"\n{section}:\n  - {{id: x}}\n"
    p = only(refused(text))
    assert (p.field, p.where) == (section, f"rb.yaml:{line_of(text, section + ':')}")
    assert f"unknown section `{section}`" in p.reason


def test_shape_errors_inside_keys_that_look_like_type_names_keep_their_path() -> None:
    text = SESAME.replace("      once: true", "      interval: 3")
    p = only(refused(text))
    assert p.field == "points.rules[2].interval"
    assert p.where == f"rb.yaml:{line_of(text, 'interval: 3')}"


@pytest.mark.parametrize("name", ["trace_id", "grace_days", "archived", "devoted",
                                  "healthy_meals", "incremental", "bracelet"])
def test_innocent_names_containing_a_sensitive_stem_are_accepted(name: str) -> None:
    text = SESAME.replace("      method: {type: enum", f"      {name}: {{type: id}}\n"
                          "      method: {type: enum", 1)
    load_rulebook(text, "rb.yaml")


@pytest.mark.parametrize("name", ["is_pregnant", "voted_last_election", "dna_match",
                                  "church_visits", "health"])
def test_sensitive_words_are_refused_inside_longer_names(name: str) -> None:
    text = SESAME.replace("      method: {type: enum", f"      {name}: {{type: id}}\n"
                          "      method: {type: enum", 1)
    assert "plaudit does not take it" in only(refused(text)).reason


def test_two_reversals_of_one_rule_must_match_on_the_same_attribute() -> None:
    body = """program: {id: t, name: T}
events:
  purchase: {attributes: {order_id: {type: id}, sku: {type: id}}}
  refund: {attributes: {order_id: {type: id}, sku: {type: id}}}
points:
  rules:
    - {id: buy, on: purchase, award: 10}
    - {id: undo, on: refund, reverses: buy, match: order_id}
    - {id: undo2, on: refund, reverses: buy, match: sku}
"""
    problems = refused(body)
    assert any(p.field == "points.rules[2].match" and "same attribute" in p.reason
               for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize(("attribute", "reason"), [
    ("{type: int, min: 0, default: -1}", "below min"),
    ("{type: decimal, max: 10, default: 11}", "above max"),
    ("{type: id, default: 'two words'}", "not a valid id"),
])
def test_attribute_defaults_must_be_valid_values(attribute: str, reason: str) -> None:
    text = SESAME.replace("      method: {type: enum", f"      extra: {attribute}\n"
                          "      method: {type: enum", 1)
    assert reason in only(refused(text)).reason


def test_an_alias_bomb_is_refused_at_its_first_anchor_without_expanding() -> None:
    p = only(within(HANG, lambda: refused(BILLION_LAUGHS)))
    assert p.where == "rb.yaml:2"
    assert "YAML anchors and aliases are not allowed" in p.reason


@pytest.mark.parametrize("text, line", [
    # harmless, but a rulebook never needs one: refused as plainly as the bomb
    (SESAME.replace("      award: floor(amount)\n", "      award: &award floor(amount)\n", 1),
     line_of(SESAME, "award: floor(amount)")),
    (SESAME + "\nextra: *award\n", SESAME.count("\n") + 2),
    (SESAME.replace("program:", "program: &p", 1) + "\nagain:\n  <<: *p\n",
     line_of(SESAME, "program:")),
], ids=["anchor", "alias", "merge-key"])
def test_any_anchor_or_alias_is_refused_naming_its_line(text: str, line: int) -> None:
    p = only(refused(text))
    assert (p.where, p.field) == (f"rb.yaml:{line}", "")
    assert p.reason.startswith("YAML anchors and aliases are not allowed")


@pytest.mark.parametrize("text, line", [
    ("program: " + "[" * 9_000, 1),                        # flow, on one line
    ("program:\n" + "  [\n" * 100_000, 66),                # far past the recursion limit
    ("program: " + "{a: " * 2_000, 1),
    ("program:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 100)), 64),  # block
], ids=["flow-lists", "flow-lists-lines", "flow-mappings", "block"])
def test_deep_nesting_is_refused_quickly_and_clearly(text: str, line: int) -> None:
    p = only(within(HANG, lambda: refused(text)))
    assert (p.where, p.reason) == (f"rb.yaml:{line}", "nested deeper than 64 levels")


def test_a_line_of_100k_brackets_is_refused_as_an_overlong_line() -> None:
    p = only(within(HANG, lambda: refused("program: " + "[" * 100_000)))
    assert (p.where, p.reason) == ("rb.yaml:1", "line longer than 10000 characters")


def test_nesting_up_to_the_limit_is_only_a_shape_problem() -> None:
    text = SESAME + "\nextra: " + "[" * 63 + "]" * 63 + "\n"   # the mapping is level 1
    assert "unknown section `extra`" in only(refused(text)).reason


def test_too_many_nodes_and_overlong_lines_are_refused_before_parsing() -> None:
    p = only(within(HANG, lambda: refused("program: [\n" + "1,\n" * 12_000 + "1]\n")))
    assert (p.where, p.reason) == ("rb.yaml:9999", "more than 10000 YAML nodes (keys, "
                                                    "values and list items)")
    p = only(within(HANG, lambda: refused("program: {id: x}\n# " + "x" * 900_000 + "\n")))
    assert (p.where, p.reason) == ("rb.yaml:2", "line longer than 10000 characters")
