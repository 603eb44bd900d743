"""What the accounts page shows, shaped from an account's profile: its MRR history, the line under
its name, its activities by channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd

from b2bmetrics.metrics.accounts import mrr_on_day, mrr_over_time

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
