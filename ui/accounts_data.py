"""What the accounts page shows, shaped from an account's profile: its MRR history, the line under
its name, its activities by channel; and the "Is the score right?" section's frames from
`health_backtest.backtest` (bands, curves, factors) and the at-risk list's new factor columns.

The backtest's and the new factors' headers are written here in both languages (the registry has
no entry for them yet), so a table shows words, never a column's internal name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd

from b2bmetrics.metrics.accounts import mrr_on_day, mrr_over_time
from b2bmetrics.metrics.health_backtest import BANDS, Backtest

CHANNEL_COLORS = {"online": "#1f6feb", "offline": "#2da44e", "phone": "#d29922", "wechat": "#1b7c83"}
OTHER_COLOR = "#6e7781"


def mrr_history(contracts: pd.DataFrame) -> pd.DataFrame:
    """The account's MRR month by month (`accounts.mrr_over_time`)."""
    return mrr_over_time(contracts)


def mrr_now(contracts: pd.DataFrame, as_of: dt.date) -> float | None:
    """MRR on the data's as-of day, as the account list shows it (`accounts.mrr_on_day`; None
    without contracts). Not the history's last month, which runs past the latest contract end."""
    return mrr_on_day(contracts, as_of)


def subtitle(account: pd.Series) -> str:
    """Id, region, segment and industry, the ones the account has."""
    values = (account["account_id"], account["region"], account["segment"], account["industry"])
    return " · ".join(str(v) for v in values if v is not None and not pd.isna(v))


def activities_by_channel(activities: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(channel, colour, its activities) per channel; a missing channel is "—"."""
    for channel, part in activities.groupby(activities["channel"].fillna("—")):
        yield str(channel), CHANNEL_COLORS.get(str(channel), OTHER_COLOR), part


# ---- "Is the score right?" ------------------------------------------------------------------------

AUTO_ACCOUNTS = 20_000  # up to this many accounts the check runs as the page opens; above, on request
BAND_COLORS = {"0_40": "#cf222e", "40_60": "#bc4c00", "60_80": "#d29922", "80_100": "#2da44e"}
# the factors in words, and the headers of the new columns (en, zh)
FACTOR_WORDS: dict[str, tuple[str, str]] = {
    "activity": ("No recent activity", "长期未跟进"),
    "satisfaction": ("Low NPS / CSAT", "NPS/CSAT 偏低"),
    "tickets": ("Open tickets", "未结工单"),
    "mrr": ("Falling MRR", "MRR 下降"),
    "late_payment": ("Late 回款", "回款逾期"),
    "slow_response": ("Slow first response", "首次响应慢"),
}
HEADERS: dict[str, tuple[str, str]] = {
    "band": ("Health band", "健康分段"),
    "scored": ("Account-months scored", "评分客户·月"),
    "churned": ("Churned within 90 days", "90 天内流失"),
    "churn_rate": ("Churn rate (90 days)", "90 天流失率"),
    "factor": ("Factor", "因素"),
    "auc": ("AUC alone", "单因素 AUC"),
    "flagged_churn_rate": ("Churn rate when flagged", "命中时流失率"),
    "other_churn_rate": ("Churn rate otherwise", "未命中时流失率"),
    "flagged": ("Flagged", "命中数"),
    "current_points": ("Points now", "当前扣分上限"),
    "fitted_points": ("Points fitted", "拟合建议扣分"),
    "late_payment": ("Late 回款", "回款逾期"),
    "late_installments": ("Overdue installments", "逾期回款笔数"),
    "overdue_amount": ("Overdue amount", "逾期金额"),
    "max_days_overdue": ("Days overdue (oldest)", "最长逾期天数"),
    "slow_response": ("Slow first response", "首次响应慢"),
    "slow_tickets": ("Tickets over SLA (90 d)", "超时工单（90天）"),
    "tickets_90d": ("Tickets (90 d)", "工单数（90天）"),
}
NEW_RISK_COLUMNS = ["late_payment", "late_installments", "overdue_amount", "max_days_overdue", "slow_response",
                    "slow_tickets", "tickets_90d"]


def header(name: str, lang: str) -> str:
    en, zh = HEADERS[name]
    return zh if lang == "zh" else en


def band_label(key: str) -> str:
    """"0–39", "40–59", "60–79", "80–100" (the scores, shown with one decimal, a band holds)."""
    for band, low, high in BANDS:
        if band == key:
            return f"{low:.0f}–{high - 1:.0f}" if high is not None else f"{low:.0f}–100"
    return key


def should_run(accounts: int) -> bool:
    """The check runs as the page opens for data up to `AUTO_ACCOUNTS` accounts."""
    return accounts <= AUTO_ACCOUNTS


def band_table(result: Backtest, lang: str) -> pd.DataFrame:
    """Per band: its label, pairs scored, churned within 90 days and the churn rate (a fraction)."""
    b = result.bands
    return pd.DataFrame({header("band", lang): [band_label(k) for k in b["band"]],
                         header("scored", lang): b["scored"].astype("int64"),
                         header("churned", lang): b["churned"].astype("int64"),
                         header("churn_rate", lang): b["churn_rate"].astype("float64")})


def km_curves(result: Backtest) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(band label, colour, its Kaplan–Meier rows) per band that has pairs."""
    for key, _, _ in BANDS:
        part = result.km[result.km["band"] == key]
        if len(part):
            yield band_label(key), BAND_COLORS[key], part


def factor_table(result: Backtest, lang: str) -> pd.DataFrame:
    """Per factor in words: its AUC alone, churn rate when flagged and otherwise, how often it is
    flagged, its points now and the fitted points."""
    f = result.factors
    names = [FACTOR_WORDS[x][1 if lang == "zh" else 0] for x in f["factor"]]
    cols = ["auc", "flagged_churn_rate", "other_churn_rate", "flagged", "current_points", "fitted_points"]
    out = pd.DataFrame({header("factor", lang): names})
    for col in cols:
        out[header(col, lang)] = pd.to_numeric(f[col], errors="coerce").to_numpy()
    return out


def separates(result: Backtest, factor: str, margin: float = 0.02) -> bool | None:
    """The factor ranks churners above the others (its AUC alone beyond ½ + `margin`); None unknown."""
    row = result.factors[result.factors["factor"] == factor]
    if row.empty or pd.isna(row["auc"].iloc[0]):
        return None
    return bool(row["auc"].iloc[0] > 0.5 + margin)


# new columns the registry already heads and formats (money, days) under the names it knows them by
REGISTRY_NAMES = {"overdue_amount": "outstanding", "max_days_overdue": "days_overdue"}


def risk_column(name: str, lang: str) -> str:
    """What the at-risk table calls column `name`: a registry column, or a header in `lang`."""
    if name in REGISTRY_NAMES:
        return REGISTRY_NAMES[name]
    return header(name, lang) if name in NEW_RISK_COLUMNS else name


def risk_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The at-risk rows with the new factor columns under their headers in `lang`."""
    return frame.rename(columns={c: risk_column(c, lang) for c in NEW_RISK_COLUMNS})
