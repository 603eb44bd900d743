"""What the Cash (回款) page shows, shaped from the collection and targets results: money as floats
for charts and tables, group labels (a rep by name), the aging bars, the collected-cash target rows,
and the call list as an Excel file.

Every number is one the library computed: this module renames, relabels, converts exact Decimals
to their floats and picks rows; it adds nothing up.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd

from b2bmetrics.metrics.cells import float_columns
from b2bmetrics.metrics.collection import AGING, AGING_COLUMNS
from b2bmetrics.registry import column, value_label
from ui import sidebar
from ui.i18n import label, lang, pick

SUMMARY_MONEY = ("due", "collected_against_due", "collected", "overdue")
GROUP_MONEY = (*SUMMARY_MONEY, *AGING_COLUMNS)
OVERDUE_MONEY = ("amount_due", "paid_by_to", "outstanding")
TARGET_MONEY = ("target", "actual", "expected_to_date")
TARGET_COLUMNS = ["level", "key", "period", "period_start", "target", "actual", "attainment", "expected_to_date",
                  "pace"]
# overdue buckets from mild to severe: amber to dark red
AGING_COLORS = {"1_30": "#d4a72c", "31_60": "#bc4c00", "61_90": "#cf222e", "over_90": "#82071e"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def unknown(by: str = "region") -> str:
    """How a group without a region (payments of an unknown account) or an owner reads."""
    return pick("(no owner)", "（无负责人）") if by == "rep" else pick("(unknown)", "（未知）")


def with_floats(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """A copy of `frame` whose money `columns` (exact Decimals) are float64: what charts and
    tables draw."""
    return float_columns(frame.copy(), *columns)


def is_empty(summary: Mapping[str, Any]) -> bool:
    """Nothing due, collected or overdue under the filters."""
    return not any(summary.get(k) for k in SUMMARY_MONEY)


def month_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The months as the chart and the table show them (money as floats)."""
    return with_floats(frame, SUMMARY_MONEY)


def group_labels(frame: pd.DataFrame, by: str) -> pd.Series:
    """A region by its name, a rep by name and id ("王伟 (R1)"; the id alone without a name);
    "(unknown)" for payments of no known region or owner."""
    if by == "rep":
        labels = [unknown(by) if pd.isna(g) else f"{n} ({g})" if isinstance(n, str) and n else str(g)
                  for g, n in zip(frame["group"], frame["rep_name"], strict=True)]
    else:
        labels = [unknown(by) if pd.isna(g) else str(g) for g in frame["group"]]
    return pd.Series(labels, index=frame.index, dtype="string")


def group_table(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """The groups as a table shows them: the group column named after what it is (`region`, or
    `rep_id` beside `rep_name`), unknown groups spelled out, money as floats."""
    out = with_floats(frame, GROUP_MONEY)
    if by == "rep":
        out = out.rename(columns={"group": "rep_id"})
        out["rep_id"] = out["rep_id"].astype("string").fillna(unknown(by))
        return out
    out = out.drop(columns="rep_name").rename(columns={"group": "region"})
    out["region"] = out["region"].astype("string").fillna(unknown())
    return out


def rate_bars(frame: pd.DataFrame, by: str, most: int) -> pd.DataFrame:
    """The groups a collection-rate chart draws: those with something due, at most the `most` with
    the largest amount due, lowest rate first (what a manager chases), with `label`."""
    due = frame[frame["collection_rate"].notna()]
    top = due.iloc[:most] if len(due) > most else due  # the frame is sorted by due, largest first
    out = with_floats(top, SUMMARY_MONEY).assign(label=group_labels(top, by))
    return out.sort_values(["collection_rate", "label"], ascending=[True, True], kind="stable")


def aging_bars(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """One row per group and aging bucket with overdue money: `label`, `aging` (the key), `bucket`
    (in words), `amount` (float)."""
    labels = group_labels(frame, by)
    floats = with_floats(frame, AGING_COLUMNS)
    rows = [{"label": labels[i], "aging": key, "bucket": value_label("aging", key, lang()),
             "amount": floats[f"aging_{key}"][i]}
            for i in frame.index for key, _, _ in AGING if floats[f"aging_{key}"][i] > 0]
    return pd.DataFrame(rows, columns=["label", "aging", "bucket", "amount"])


def overdue_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The call list as the table shows it: money as floats, due dates as timestamps."""
    out = with_floats(frame, OVERDUE_MONEY)
    out["due_date"] = pd.to_datetime(out["due_date"])
    return out


def overdue_caption(frame: pd.DataFrame, to: Any, money: str) -> str:
    """How many installments the list holds and what they add up to (the overdue tile's figure)."""
    n = len(frame)
    return pick(f"{n:,} installments overdue on {to}, {money} outstanding; longest overdue first.",
                f"截至 {to} 共 {n:,} 笔逾期回款，未回款 {money}；按逾期天数排序。")


def rep_names() -> dict[str, str]:
    """Each person's name by id, from the sidebar's list (cached per data version and scope)."""
    people = sidebar.options()["reps"]
    return {str(r): str(n) for r, n in zip(people["rep_id"], people["rep_name"], strict=True) if isinstance(n, str)}


def collected_targets(summary: Mapping[str, Any], names: Mapping[str, str]) -> pd.DataFrame:
    """The target rows with basis `collected` (the rows of `targets.summary`, in its order), money as
    floats, a rep's key as "name (id)", a company row's key as "Company"."""
    rows = [r for r in summary.get("rows", []) if r.get("basis") == "collected"]
    out = pd.DataFrame(rows, columns=[*TARGET_COLUMNS, "basis"])[TARGET_COLUMNS]
    out = with_floats(out, TARGET_MONEY)
    out["period_start"] = pd.to_datetime(out["period_start"])
    keys = []
    for level, key in zip(out["level"], out["key"], strict=True):
        if level == "company" or key is None:
            keys.append(str(value_label("level", "company", lang())))
        elif level == "rep" and names.get(key):
            keys.append(f"{names[key]} ({key})")
        else:
            keys.append(str(key))
    out["key"] = pd.Series(keys, index=out.index, dtype="string")
    for name in ("attainment", "pace"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    return out


def target_levels(frame: pd.DataFrame) -> list[str]:
    """The levels present, company first."""
    order = ["company", "region", "team", "rep"]
    present = set(frame["level"])
    return [level for level in order if level in present]


def target_periods(frame: pd.DataFrame) -> list[str]:
    """The period types present, month first."""
    present = set(frame["period"])
    return [p for p in ("month", "quarter", "year") if p in present]


def target_bars(frame: pd.DataFrame, most: int = 30) -> pd.DataFrame:
    """What the targets chart draws for one level and period type: with one key (the company), its
    periods in order; with several, each key's target of the latest period started by `to`, at
    most `most` of them (the largest targets), with `label`."""
    if frame["key"].nunique() <= 1:
        out = frame.sort_values("period_start", kind="stable")
        return out.assign(label=out["period_start"].dt.strftime("%Y-%m-%d"))
    latest = frame[frame["period_start"] == frame["period_start"].max()]
    out = latest.sort_values(["target", "key"], ascending=[False, True], kind="stable").iloc[:most]
    return out.assign(label=out["key"])


def target_bars_title(frame: pd.DataFrame) -> str | None:
    """The chart's title when it shows several keys of one period."""
    if frame["key"].nunique() <= 1:
        return None
    start = frame["period_start"].max().date()
    return pick(f"Period from {start}", f"{start} 起的周期")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # never a formula in Excel (as the CSV downloads escape it)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def xlsx_bytes(frame: pd.DataFrame, sheet: str) -> bytes:
    """`frame` as an Excel workbook: the same columns as the CSV download, a header row in the
    current language (the registry's), money with two decimals, dates as dates."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    ws.append([label(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False):
        ws.append([_cell(v) for v in row])
    for i, name in enumerate(frame.columns, start=1):
        declared = column(str(name))
        fmt = declared.format if declared else "text"
        number_format = {"money": "#,##0.00", "date": "yyyy-mm-dd", "count": "#,##0"}.get(fmt)
        letter = get_column_letter(i)
        if number_format:
            for cell in ws[letter][1:]:
                cell.number_format = number_format
        ws.column_dimensions[letter].width = 14 if fmt in ("money", "date", "count") else 22
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
