"""What the Forecast (销售预测) page shows, shaped from the targets, forecast and pipeline-change
results: the target rows of the period and the one a chart follows, its goal line, the forecast
stacked against it with the coverage, the stage probabilities with their samples, the waterfall's
bars and the tables of deals behind them.

Every amount is one the library computed (exact Decimals shown as floats); the only arithmetic
here is what a chart draws from them: the running total of a target's daily credit, the goal
line target × e / n day by day, the waterfall's relative bars, and the coverage ratio
(CONTRACT §5 defines it on the page: open pipeline expected in the period ÷ (target − closed won)).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics.forecast import CATEGORIES
from b2bmetrics.metrics.pipeline_change import BUCKETS
from b2bmetrics.metrics.targets import period_last_day
from b2bmetrics.registry import value_label
from ui import data
from ui.cash_data import rep_names, with_floats
from ui.i18n import lang, pick, words
from ui.tables import column_config

TARGET_COLUMNS = ["level", "key", "period", "period_start", "basis", "target", "actual", "attainment",
                  "expected_to_date", "pace"]
TARGET_MONEY = ("target", "actual", "expected_to_date")
LEVEL_ORDER = ("company", "region", "team", "rep")
PERIOD_ORDER = ("month", "quarter", "year")
STACK = ("closed_won", "commit", "best_case", "pipeline")
STACK_COLORS = {"closed_won": "#2da44e", "commit": "#1f6feb", "best_case": "#8250df", "pipeline": "#8c959f"}
CHANGE_MONEY = ("change", "amount_start", "amount_end")
OPEN_MONEY = ("amount",)
# what each waterfall bar does to the pipeline: +1 adds, −1 takes away
SIGNS = {"created": 1, "pulled_in": 1, "increased": 1, "decreased": -1, "pushed_out": -1, "won": -1, "lost": -1}

# the page's own columns (not in the registry): header en / zh, format
LOCAL_COLUMNS: dict[str, tuple[str, str, str]] = {
    "decided": ("Decided deals (n)", "已结束商机数（n）", "count"),
    "won": ("Won", "赢单数", "count"),
    "learned": ("Learned p", "历史赢单率", "percent"),
    "learned_lo": ("95% CI low", "95% 置信下限", "percent"),
    "learned_hi": ("95% CI high", "95% 置信上限", "percent"),
    "configured": ("Configured p", "配置概率", "percent"),
    "used": ("p used", "采用概率", "percent"),
    "few_deals": ("Under 30 deals", "样本少于30", "bool"),
    "bucket": ("Change", "变动类型", "text"),
    "change": ("Amount of the change", "变动金额", "money"),
    "amount_start": ("Amount at start", "起始金额", "money"),
    "amount_end": ("Amount at end", "结束金额", "money"),
    "close_start": ("Expected close at start", "起始预计成交", "date"),
    "close_end": ("Expected close at end", "结束预计成交", "date"),
    "stage_end": ("Stage at end", "结束阶段", "text"),
    "status_end": ("Status at end", "结束状态", "text"),
    "times_pushed": ("Times pushed out", "推迟次数", "count"),
    "stage_probability": ("Stage p", "阶段概率", "percent"),
    "label": ("Target", "目标", "text"),
}
BUCKET_LABELS = {
    "start": ("Start", "期初"), "created": ("Created", "新建"), "pulled_in": ("Pulled in", "提前"),
    "increased": ("Increased", "增额"), "decreased": ("Decreased", "减额"), "pushed_out": ("Pushed out", "推迟"),
    "won": ("Won", "赢单"), "lost": ("Lost", "输单"), "end": ("End", "期末"),
}
CATEGORY_LABELS = {"commit": ("Commit", "确定成交"), "best_case": ("Best case", "最佳情况"),
                   "pipeline": ("Pipeline", "管道"), "omitted": ("Omitted", "排除")}


def local_label(name: str) -> str:
    en, zh, _ = LOCAL_COLUMNS[name]
    return pick(en, zh)


def bucket_label(bucket: str) -> str:
    return pick(*BUCKET_LABELS[bucket])


def category_label(category: str) -> str:
    return pick(*CATEGORY_LABELS[category]) if category in CATEGORY_LABELS else str(category)


def table_config(frame: pd.DataFrame) -> dict[str, Any]:
    """The registry's headers and formats, plus this page's own columns."""
    config = column_config(frame)
    fmts = {"money": "accounting", "count": "localized", "percent": "percent"}
    for name in frame.columns:
        if name not in LOCAL_COLUMNS:
            continue
        fmt = LOCAL_COLUMNS[name][2]
        if fmt in fmts:
            config[name] = st.column_config.NumberColumn(local_label(name), format=fmts[fmt])
        elif fmt == "date":
            config[name] = st.column_config.DatetimeColumn(local_label(name), format="YYYY-MM-DD")
        elif fmt == "bool":
            config[name] = st.column_config.CheckboxColumn(local_label(name))
        else:
            config[name] = st.column_config.Column(local_label(name))
    return config


# ---- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One target row and the days its goal line spans."""

    level: str
    key: str | None
    period: str
    period_start: dt.date
    basis: str
    target: Decimal
    actual: Decimal
    attainment: float | None
    expected_to_date: float | None
    pace: float | None

    @property
    def last_day(self) -> dt.date:
        return period_last_day(self.period_start, self.period)

    def filters(self, base: Filters) -> Filters:
        """`base` over the target's own period (the forecast stacked against it)."""
        return replace(base, date_from=self.period_start, date_to=self.last_day)


def target_of(row: Mapping[str, Any]) -> Target:
    return Target(str(row["level"]), row["key"], str(row["period"]), dt.date.fromisoformat(str(row["period_start"])),
                  str(row["basis"]), Decimal(row["target"]), Decimal(row["actual"]), row["attainment"],
                  row["expected_to_date"], row["pace"])


def key_label(level: str, key: str | None, names: Mapping[str, str]) -> str:
    if level == "company" or key is None:
        return str(value_label("level", "company", lang()))
    if level == "rep" and names.get(key):
        return f"{names[key]} ({key})"
    return str(key)


def target_label(t: Target, names: Mapping[str, str]) -> str:
    """"Company · Quarter from 2024-04-01 · Booked", "Rep: 王伟 (R1) · …" (in the page's language)."""
    who = words("level", t.level) if t.level == "company" else \
        f"{words('level', t.level)}: {key_label(t.level, t.key, names)}"
    return f"{who} · {words('period', t.period)} {pick('from', '自')} {t.period_start} · {words('basis', t.basis)}"


def target_table(summary: Mapping[str, Any], names: Mapping[str, str]) -> pd.DataFrame:
    """Every target row of the period (the rows of `targets.summary`, in its order), money as
    floats, a rep's key by name, a company row's key as "Company"."""
    rows = list(summary.get("rows", []))
    out = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    out = with_floats(out, TARGET_MONEY)
    out["period_start"] = pd.to_datetime(out["period_start"])
    out["key"] = pd.Series([key_label(lv, k, names) for lv, k in zip(out["level"], out["key"], strict=True)],
                           index=out.index, dtype="string")
    for name in ("attainment", "pace"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    return out


def headline_targets(summary: Mapping[str, Any], period: Period, *, rep_first: bool = False) -> list[Target]:
    """The booked targets a chart can follow, the default first: the widest level present (the rep's
    own with `rep_first`), then the target whose period holds `to`, of the shortest period type
    that also holds `from` (else the longest), then key; the other booked rows after it in order."""
    booked = [target_of(r) for r in summary.get("rows", []) if r.get("basis") == "booked"]
    if not booked or period.start is None or period.end is None:
        return booked
    order = ("rep", "team", "region", "company") if rep_first else LEVEL_ORDER
    to, start = period.end, period.start

    def rank(t: Target) -> tuple[int, int, int, str]:
        holds_to = t.period_start <= to <= t.last_day
        holds_from = t.period_start <= start
        p = PERIOD_ORDER.index(t.period)
        fit = p if holds_to and holds_from else (len(PERIOD_ORDER) + (len(PERIOD_ORDER) - p) if holds_to
                                                 else 3 * len(PERIOD_ORDER))
        return order.index(t.level), fit, -t.period_start.toordinal(), t.key or ""

    return sorted(booked, key=rank)


def goal_line(t: Target, credit: Sequence[tuple[dt.date, Any]], to: dt.date) -> pd.DataFrame:
    """Day by day from the target's first day to min(`to`, its last day): `actual` (the running
    total of the daily credit: its last value is the row's actual), and over the whole period
    `goal` = target × e / n (e days elapsed, n days in the period, both inclusive)."""
    n = (t.last_day - t.period_start).days + 1
    days = pd.date_range(t.period_start, t.last_day, freq="D")
    last = min(to, t.last_day)
    actual, running = [], Decimal(0)
    exact = {pd.Timestamp(d): Decimal(v) for d, v in credit if t.period_start <= d <= t.last_day}
    for day in days:
        running += exact.get(day, Decimal(0))
        actual.append(float(running) if day.date() <= last else float("nan"))
    goal = [float(t.target) * (i + 1) / n for i in range(len(days))]
    return pd.DataFrame({"day": days, "actual": actual, "goal": goal})


def against_target(forecast: Mapping[str, Any], t: Target) -> dict[str, Any]:
    """The forecast over the target's period against it: the stack (floats), the target, weighted,
    `open_expected` = commit + best case + pipeline, and `coverage` = open_expected ÷ (target −
    closed won), None when the target is already reached (nothing left to cover)."""
    stack = {k: float(forecast[k]) for k in STACK}
    open_expected = Decimal(forecast["commit"]) + Decimal(forecast["best_case"]) + Decimal(forecast["pipeline"])
    gap = t.target - Decimal(forecast["closed_won"])
    coverage = float(open_expected / gap) if gap > 0 else None
    return {"stack": stack, "target": float(t.target), "weighted": forecast["weighted"],
            "open_expected": open_expected, "gap": gap, "coverage": coverage,
            "committed": Decimal(forecast["closed_won"]) + Decimal(forecast["commit"])}


# ---- stage probabilities ----------------------------------------------------------------------


def stage_table(evidence: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per pipeline stage: its sample, learned p with the Wilson interval, configured and
    used p, and the small-sample flag; plus the `learned_n`/`learned_small` columns the interval
    chart reads."""
    out = pd.DataFrame(list(evidence), columns=["stage", "decided", "won", "learned", "learned_lo", "learned_hi",
                                                "configured", "probability", "small_sample"])
    for name in ("learned", "learned_lo", "learned_hi", "configured", "probability"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    out = out.rename(columns={"probability": "used", "small_sample": "few_deals"})
    out["few_deals"] = out["few_deals"].astype(bool)
    out["learned_n"] = out["decided"]
    out["learned_small"] = out["few_deals"]
    return out


# ---- pipeline change --------------------------------------------------------------------------


def waterfall_bars(change: Mapping[str, Any]) -> pd.DataFrame | None:
    """start, the seven buckets, end: `bar` (key), `label`, `measure` (absolute / relative / total)
    and `value` (float, signed for the relative bars); None when the amounts are null."""
    if change.get("start") is None:
        return None
    rows = [{"bar": "start", "measure": "absolute", "value": float(change["start"])}]
    rows += [{"bar": b, "measure": "relative", "value": SIGNS[b] * float(change[b])} for b in BUCKETS]
    rows.append({"bar": "end", "measure": "total", "value": float(change["end"])})
    out = pd.DataFrame(rows)
    out["label"] = [bucket_label(b) for b in out["bar"]]
    return out


def bucket_of_points(points: Sequence[Mapping[str, Any]]) -> str | None:
    """The bucket of the first clicked waterfall bar (a plotly_chart selection's points); None for
    the start or end bar, or no click."""
    if not points:
        return None
    bars = ["start", *BUCKETS, "end"]
    index = points[0].get("point_index", points[0].get("point_number"))
    if isinstance(index, int) and 0 <= index < len(bars) and bars[index] in BUCKETS:
        return bars[index]
    return None


def change_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The deals behind a bucket as the table shows them: money as floats, the bucket and the end
    status in words, dates as timestamps."""
    out = with_floats(frame, CHANGE_MONEY)
    if "bucket" in out.columns:
        out["bucket"] = pd.Series([bucket_label(b) for b in out["bucket"]], index=out.index, dtype="string")
    if "status_end" in out.columns:
        out["status_end"] = pd.Series([words("status", s) if isinstance(s, str) else None for s in out["status_end"]],
                                      index=out.index, dtype="string")
    for name in ("close_start", "close_end"):
        if name in out.columns:
            out[name] = pd.to_datetime(out[name])
    return out


def open_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The open deals by category as the table shows them (category in words, money as floats)."""
    out = with_floats(frame, OPEN_MONEY)
    out["forecast_category"] = pd.Series([category_label(c) for c in out["forecast_category"]], index=out.index,
                                         dtype="string")
    out["expected_close_at"] = pd.to_datetime(out["expected_close_at"])
    return out


def category_totals(frame: pd.DataFrame) -> dict[str, Decimal]:
    """Σ amount per category of `forecast.open_deals` rows, exact (null amounts left out)."""
    out = {c: Decimal(0) for c in (*CATEGORIES, "omitted")}
    for c, a in zip(frame["forecast_category"], frame["amount"], strict=True):
        if a is not None and not (isinstance(a, float) and a != a):
            out[c] = out.get(c, Decimal(0)) + Decimal(a)
    return out


def names() -> dict[str, str]:
    """Each person's name by id (the sidebar's list)."""
    return rep_names()


def default_days(filters: Filters) -> tuple[dt.date | None, dt.date | None]:
    """The snapshot days the period compares (`pipeline_change.compared_days`)."""
    return data.pipeline_days(filters)
