"""Curves remember their inputs: what they return never depends on it, whatever the input's
type, and the memory stays bounded however many distinct inputs pass."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.mechanics import score
from plaudit.domain.rulebook import Curve, Factor

CURVE = Curve(((Decimal(0), Decimal(0)), (Decimal(3), Decimal("0.5")),
               (Decimal("7.5"), Decimal(1))))


def factor() -> Factor:
    return Factor("f", "F", Decimal(1), "x", None, Curve(CURVE.points), "low", "more")


inputs = st.one_of(st.booleans(), st.integers(-5, 20),
                   st.decimals(min_value=-5, max_value=20, places=6, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(xs=st.lists(inputs, min_size=1, max_size=50))
def test_a_remembered_value_is_the_computed_one(xs: list[object]) -> None:
    f = factor()
    for x in xs + xs:  # the second pass reads the memo
        assert f.curve is not None
        assert score.curve_value(f, x) == CURVE(score.number(x))
    assert score.curve_value(f, True) == score.curve_value(f, 1) == CURVE(Decimal(1))


def test_many_distinct_inputs_keep_the_memo_bounded_and_the_values_exact() -> None:
    f = factor()
    assert f.curve is not None
    for i in range(3 * score.CURVE_MEMO):
        x = Decimal(i) / 1000
        assert score.curve_value(f, x) == CURVE(x)
        assert len(f.curve.memo) <= score.CURVE_MEMO
