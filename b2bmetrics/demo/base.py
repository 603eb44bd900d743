"""What every table family of the demo shares: the clock, time on the working-hours axis, small
vectorised helpers, and the builders of Arrow columns typed as the database types them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Array = np.ndarray

WORK_HOURS_PER_WEEK = 45.0  # 09:00-18:00, Monday to Friday
WORK_PER_DAY = WORK_HOURS_PER_WEEK / 7.0  # working hours per calendar day, on average
MONDAY = 4.0  # 1970-01-05 was a Monday: days since the epoch
# business by calendar month: the Spring Festival in February, the National Day week in October,
# and the year-end push in December
SEASON = np.array([0.90, 0.55, 1.05, 1.0, 0.95, 1.0, 0.95, 0.90, 1.05, 0.80, 1.05, 1.10])


@dataclass(frozen=True)
class Clock:
    """The span the data covers, as float days since 1970-01-01 (local, naive time)."""

    start: float  # 00:00 on the first day
    now: float  # 18:00 on `today`: the moment of the export

    @property
    def today(self) -> int:
        return int(np.floor(self.now))


# ---- time on the working-hours axis -------------------------------------------------------------
# Business events (deals, stage changes, visits) happen 09:00-18:00 on weekdays. Durations are
# drawn in working hours and mapped to calendar time by a strictly increasing function, so order
# is kept and nothing lands on a Sunday night.
def to_work(days: Array) -> Array:
    """Calendar days since the epoch -> working hours since MONDAY (off hours map to the next start)."""
    c = np.asarray(days, dtype=np.float64) - MONDAY
    week = np.floor(c / 7.0)
    rest = c - 7.0 * week
    dow = np.floor(rest)
    hour = (rest - dow) * 24.0
    within = np.where(dow < 5, dow * 9.0 + np.clip(hour - 9.0, 0.0, 9.0), WORK_HOURS_PER_WEEK)
    return week * WORK_HOURS_PER_WEEK + within


def from_work(hours: Array) -> Array:
    """Working hours since MONDAY -> calendar days since the epoch."""
    w = np.asarray(hours, dtype=np.float64)
    week = np.floor(w / WORK_HOURS_PER_WEEK)
    rest = np.clip(w - WORK_HOURS_PER_WEEK * week, 0.0, WORK_HOURS_PER_WEEK - 1e-9)
    day = np.floor(rest / 9.0)
    return MONDAY + week * 7.0 + day + (9.0 + rest - 9.0 * day) / 24.0


def work_uniform(rng: np.random.Generator, lo_days: Array, hi_days: Array, share: float = 1.0) -> Array:
    """Moments uniform between two calendar times: `share` of them in working hours, the rest at any hour."""
    lo, hi = np.asarray(lo_days, np.float64), np.asarray(hi_days, np.float64)
    u = rng.random(lo.shape)
    work = from_work(to_work(lo) + u * (to_work(hi) - to_work(lo)))
    anytime = lo + u * (hi - lo)
    day = np.floor(anytime)
    anytime = day + 7.0 / 24.0 + (anytime - day) * (16.0 / 24.0)  # people are awake 07:00-23:00
    out = np.where(rng.random(lo.shape) < share, work, anytime)
    return np.clip(out, lo, hi)


def add_months(days: Array, months: Array) -> Array:
    """Calendar dates (days since the epoch) plus whole months, clipped to the month's last day."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.asarray(months, dtype=np.int64)
    length = ((m2 + 1).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(np.int64)
    out = m2.astype("datetime64[D]") + np.minimum(dom, length - 1)
    return out.astype(np.int64)


def seasonal(rng: np.random.Generator, first: Array, second: Array) -> Array:
    """Calendar times thinned by SEASON: a draw in a slow month is often replaced by a second draw."""
    month = np.floor(first).astype(np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    keep = rng.random(len(first)) < SEASON[month] / SEASON.max()
    return np.where(keep, first, second)


def quarter(days: Array) -> Array:
    """Quarter index (months since 1970 // 3) of calendar days since the epoch."""
    return np.asarray(days, np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) // 3


# ---- small vectorised helpers -------------------------------------------------------------------
def choice(rng: np.random.Generator, weights: Sequence[float] | Array, n: int) -> Array:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def choice_by_group(rng: np.random.Generator, groups: Array, table: Array) -> Array:
    """For each element, an index drawn with the probabilities of its group's row of `table`."""
    out = np.zeros(len(groups), dtype=np.int64)
    for g in range(table.shape[0]):
        m = groups == g
        if m.any():
            out[m] = choice(rng, table[g], int(m.sum()))
    return out


def repeat_index(counts: Array) -> Array:
    """0,0,1,2,2,2 for counts 2,1,3: the owner of each generated row."""
    return np.repeat(np.arange(len(counts)), counts)


def sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def duplicated(values: Array) -> Array:
    """True for every later occurrence of a value already seen."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    dup = np.zeros(len(values), dtype=bool)
    dup[order[1:]] = s[1:] == s[:-1]
    return dup


def pick_strings(rng: np.random.Generator, options: Sequence[str], n: int,
                  weights: Sequence[float] | Array | None = None) -> Array:
    opts = np.array(options)
    if weights is None:
        return opts[rng.integers(0, len(opts), n)]
    return opts[choice(rng, weights, n)]


def ensure(flags: Array, eligible: Array) -> Array:
    """Make sure a rare feature shows up at least once when some row could have it (small datasets)."""
    if eligible.any() and not (flags & eligible).any():
        flags = flags.copy()
        flags[np.flatnonzero(eligible)[0]] = True
    return flags


def round_money(x: Array) -> Array:
    """Amounts as salespeople quote them: to the thousand above ¥100,000, else to the hundred."""
    return np.where(x >= 100_000, np.round(x / 1000.0) * 1000.0, np.maximum(np.round(x / 100.0) * 100.0, 100.0))


# ---- Arrow columns -------------------------------------------------------------------------------
def make_ids(prefix: str, n: int, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string()),
                          width=max(width, len(str(n))), padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def take(values: pa.Array, index: Array, valid: Array | None = None) -> pa.Array:
    """values[index], null where `valid` is False or `index` is negative."""
    index = np.asarray(index, dtype=np.int64)
    mask = index < 0 if valid is None else (~np.asarray(valid, dtype=bool)) | (index < 0)
    return values.take(pa.array(np.where(mask, 0, index), mask=mask if mask.any() else None))


def labels(options: Sequence[str], codes: Array, valid: Array | None = None) -> pa.Array:
    return take(pa.array(list(options), pa.string()), codes, valid)


def timestamps(days: Array, valid: Array | None = None) -> pa.Array:
    """Calendar days since the epoch -> TIMESTAMP to the minute."""
    minutes = np.floor(np.nan_to_num(np.asarray(days, np.float64)) * 1440.0 + 1e-7).astype(np.int64)
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(minutes * 60_000_000, type=pa.timestamp("us"), mask=mask)


def dates(days: Array, valid: Array | None = None) -> pa.Array:
    d = np.floor(np.nan_to_num(np.asarray(days, np.float64))).astype(np.int32)
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(d, type=pa.date32(), mask=mask)


def numbers(x: Array, valid: Array | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.nan_to_num(np.asarray(x, np.float64)), type=pa.float64(), mask=mask)


MONEY = pa.decimal128(18, 4)  # schema kind "money": DECIMAL(18,4)
SHARE = pa.decimal128(12, 10)  # schema kind "share": DECIMAL(12,10)


def decimals(x: Array, dtype: pa.Decimal128Type = MONEY, places: int = 2, valid: Array | None = None) -> pa.Array:
    """Exact decimals of `x` rounded to `places` (money generated as cents is stored as those cents,
    never as the binary expansion of a float): the unscaled integers are written straight into the
    Arrow buffer (16-byte little-endian two's complement)."""
    units = np.round(np.nan_to_num(np.asarray(x, np.float64)) * 10.0**places).astype(np.int64)
    units = units * np.int64(10 ** (dtype.scale - places))
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # the sign, extended into the high word
    out = pa.Array.from_buffers(dtype, len(units), [None, pa.py_buffer(words.tobytes())])
    if valid is not None:
        out = pc.if_else(pa.array(np.asarray(valid, dtype=bool)), out, pa.scalar(None, dtype))
    return out
