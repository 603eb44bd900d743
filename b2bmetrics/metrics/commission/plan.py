"""A commission plan's arithmetic: the periods it pays by, its tier bands, cap and rates, and the
one rounding rule of money paid (`cents`).

Everything is exact (CONTRACT §4 "(v2) Money in the JSON"). The config holds a plan's rates,
bounds, cap and default quota as floats; `numbers` reads each one as the decimal it is written as,
`Decimal(str(x))` (0.04 is 4/100, not the binary float nearest to it), in this one place, once per
plan. The tier arithmetic then only adds, subtracts, multiplies and compares decimals, in a context
that refuses an inexact result (`EXACT`): a commission before rounding is the exact value. A ratio (an effective rate, commission / credited) is a `Fraction`, exact too.

`cents` rounds a figure paid to cents half away from zero (−0.125 → −0.13, as Excel's ROUND):
each row's commission, referral commission and clawback, and each statement line.

Tier bands are closed above: band i covers attainment (up_to[i-1], up_to[i]], so attainment exactly
at an `up_to` is paid at that band's rate in retroactive mode (marginal mode is continuous there).
Attainment is compared as credited ≤ up_to × quota, exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from functools import lru_cache
from typing import Any

from b2bmetrics.config import Plan
from b2bmetrics.filters import Period
from b2bmetrics.metrics._rules import next_period_start, period_start_of

__all__ = ["CENT", "EXACT", "ZERO", "PlanNumbers", "cents", "cents_of_ratio", "commission_periods", "decimal", "exact_sum",
           "next_period_start", "numbers", "period_start_of", "ratio", "tier_commission", "tier_commissions"]

# Sums and products are exact at any length under an unbounded precision (the digits are only as
# many as a result needs, e.g. 0.125 + 1e-194); nothing divides in it (ratios are Fractions), and
# an inexact result would be a bug, so it raises instead of rounding silently.
EXACT = Context(prec=MAX_PREC, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN,
                traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_ROUNDING = Context(prec=MAX_PREC, rounding=ROUND_HALF_UP, Emax=MAX_EMAX, Emin=MIN_EMIN,
                    traps=[InvalidOperation, DivisionByZero, Overflow])
CENT = Decimal("0.01")
ZERO = Decimal(0)
_ZERO_CENTS = Decimal("0.00")


def decimal(value: float | int | Decimal) -> Decimal:
    """A plan's number (a float of the config) as the decimal it is written as: Decimal(str(x))."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return Decimal(str(value))


def cents(value: Decimal | Fraction | int) -> Decimal:
    """`value` rounded to cents, half away from zero (2.345 → 2.35, −0.125 → −0.13); never −0.00."""
    if type(value) is not Decimal:  # the rows round tens of thousands of Decimals: they go first
        if isinstance(value, Fraction):
            return cents_of_ratio(value.numerator, value.denominator)
        value = Decimal(value)
    if not value:
        return _ZERO_CENTS
    out = value.quantize(CENT, rounding=ROUND_HALF_UP, context=_ROUNDING)
    return out if out else _ZERO_CENTS


def cents_of_ratio(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator rounded to cents as `cents` rounds (exact integer arithmetic)."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    whole, rest = divmod(abs(numerator) * 100, denominator)
    if 2 * rest >= denominator:
        whole += 1
    if not whole:
        return _ZERO_CENTS
    return Decimal(whole if numerator >= 0 else -whole).scaleb(-2, context=_ROUNDING)


def ratio(numerator: Decimal, denominator: Decimal) -> Fraction | None:
    """numerator / denominator exactly; None when the denominator is 0."""
    return None if not denominator else Fraction(numerator) / Fraction(denominator)


@dataclass(frozen=True)
class PlanNumbers:
    """A plan's numbers as exact decimals: bands (up_to, rate) with up_to None for the open last band."""

    bands: tuple[tuple[Decimal | None, Decimal], ...]
    cap: Decimal
    default_quota: Decimal
    referral_rate: Decimal
    retroactive: bool

    @property
    def last_rate(self) -> Decimal:
        return self.bands[-1][1]


@lru_cache(maxsize=64)
def numbers(plan: Plan) -> PlanNumbers:
    """The plan's floats read as decimals (the one place they are converted)."""
    return PlanNumbers(
        bands=tuple((None if t.up_to is None else decimal(t.up_to), decimal(t.rate)) for t in plan.tiers),
        cap=decimal(plan.cap), default_quota=decimal(plan.default_quota),
        referral_rate=decimal(plan.referral_rate), retroactive=plan.mode == "retroactive")


def commission_periods(period: Period, unit: str) -> list[dt.date]:
    """Starts of the commission periods overlapping the filter period (empty when there is no data)."""
    if period.start is None or period.end is None or period.end < period.start:
        return []
    out = [period_start_of(period.start, unit)]
    while (nxt := next_period_start(out[-1], unit)) <= period.end:
        out.append(nxt)
    return out


def _commission(credited: Decimal, quota: Decimal, n: PlanNumbers) -> Decimal:
    """The tier arithmetic in the current (exact) context."""
    if credited <= 0:
        return ZERO
    if quota <= 0:
        raw = credited * n.last_rate
    elif n.retroactive:
        rate = next((r for up_to, r in n.bands if up_to is None or credited <= up_to * quota), n.last_rate)
        raw = credited * rate
    else:
        raw, lower = ZERO, ZERO
        for up_to, rate in n.bands:
            upper = None if up_to is None else up_to * quota
            if credited > lower:
                raw += ((credited if upper is None else min(credited, upper)) - lower) * rate
            if upper is None or credited <= upper:
                break
            lower = upper
    return min(raw, n.cap) if n.cap > 0 else raw


def tier_commission(credited: Decimal, quota: Decimal, plan: Plan) -> Decimal:
    """Commission on `credited` revenue against `quota` under `plan` (tiers, mode, cap), exact and
    not rounded (nothing for credited ≤ 0).

    Marginal: each slice of revenue between band bounds (× quota) at its band's rate. Retroactive:
    all of it at the rate of the band attainment falls in. Quota 0: all at the last band's rate.
    Limited to `plan.cap` when the cap is above 0.
    """
    with localcontext(EXACT):
        return _commission(Decimal(credited), Decimal(quota), numbers(plan))


def tier_commissions(credited: Sequence[Decimal], quota: Sequence[Decimal], plan: Plan) -> list[Decimal]:
    """`tier_commission` of each (credited, quota) pair, in one exact context."""
    n = numbers(plan)
    with localcontext(EXACT):
        return [_commission(c, q, n) for c, q in zip(credited, quota, strict=True)]


def exact_sum(values: Iterable[Any], start: Decimal = ZERO) -> Decimal:
    """Σ of decimals, exactly."""
    with localcontext(EXACT):
        return sum(values, start)
