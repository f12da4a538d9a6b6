"""Expressions: what is refused at load (and why), and exact arithmetic when allowed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plaudit.domain.errors import EvaluationError, ExpressionError
from plaudit.domain.expressions import BOOL, DECIMAL, INT, compile_expression, enum, level

NAMES = {"amount": DECIMAL, "n": INT, "ok": BOOL,
         "category": enum(("books", "produce", "games")),
         "tier": level("tier", ("Member", "Silver", "Gold"))}


@pytest.mark.parametrize(("source", "reason"), [
    ('"a" * 10**9', "`**` is not allowed"),
    ("[0] * 1000000000", "works on numbers only, not on a list"),
    ('"a" * 3 == "aaa"', "works on numbers only, not on text"),
    ('category + "x" == "y"', "works on numbers only"),
    ("amount ** 2 > 1", "`**` is not allowed"),
    ("amount.real > 1", "attribute access"),
    ("__import__('os') == 1", "is not allowed"),
    ("len(category) > 1", "function `len` is not allowed"),
    ("[x for x in [1]] == [1]", "not allowed"),
    ("(lambda: 1)() == 1", "not allowed"),
    ("amount[0] > 1", "indexing"),
    ("amount > 99999999999999999", "larger than"),
    ("n", "must be a condition"),
])
def test_refused(source: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, NAMES, "bool")
    assert reason in info.value.reason


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("amout > 10", NAMES, "bool")
    assert info.value.suggestion == "amount"
    assert info.value.column == 1


def test_enum_literal_must_be_a_value() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression('category == "bookz"', NAMES, "bool")
    assert info.value.suggestion == "books"
    with pytest.raises(ExpressionError):
        compile_expression('category in ["books", "gamez"]', NAMES, "bool")


def test_tier_names_exist_and_compare_by_order() -> None:
    with pytest.raises(ExpressionError, match="not a tier"):
        compile_expression('tier >= "Platinum"', NAMES, "bool")
    at_least_silver = compile_expression('tier >= "Silver"', NAMES, "bool")
    # tiers are passed as their position: Member 0, Silver 1, Gold 2
    assert [at_least_silver({"tier": i}) for i in range(3)] == [False, True, True]
    with pytest.raises(ExpressionError):
        compile_expression("tier > 1", NAMES, "bool")


def test_exact_decimal_arithmetic() -> None:
    e = compile_expression("amount * 1.1", NAMES, "number")
    assert e({"amount": Decimal("10.10")}) == Decimal("11.110")
    third = compile_expression("n / 3", NAMES, "number")({"n": 1})
    assert isinstance(third, Decimal) and str(third).startswith("0.3333")
    assert compile_expression("round(amount)", NAMES, "number")({"amount": Decimal("2.5")}) == 3
    assert compile_expression("round(amount, 1)", NAMES, "number")(
        {"amount": Decimal("2.25")}) == Decimal("2.3")
    assert compile_expression("floor(amount)", NAMES, "number")({"amount": Decimal("7.9")}) == 7
    assert compile_expression("n // 2 + n % 2", NAMES, "number")({"n": 7}) == 4


def test_division_by_zero_is_an_evaluation_error() -> None:
    e = compile_expression("n / n", NAMES, "number")
    with pytest.raises(EvaluationError):
        e({"n": 0})


def test_conditional_and_membership() -> None:
    e = compile_expression('2 if category in ["books", "produce"] and ok else 1', NAMES,
                           "number")
    assert e({"category": "books", "ok": True}) == 2
    assert e({"category": "games", "ok": True}) == 1
