"""Every KPI declared once: name, English and Chinese label, description, format.

As in Rill's metrics views and dbt MetricFlow, a KPI is a declaration: the CLI's table output, the
dashboard's tiles and tables and the docs read labels and formats from here and never retype them.
`key` is the KPI's path in the `kpis` JSON (CONTRACT §4), e.g. "funnel.win_rate".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["percent", "money", "days", "hours", "count", "score", "nps", "number"]
Lang = Literal["en", "zh"]


@dataclass(frozen=True)
class KPI:
    key: str
    label_en: str
    label_zh: str
    format: Format
    description: str
    # the metric family / page that explains it
    family: str
    # True when a rise is good news (tiles colour their change by it)
    higher_is_better: bool = True

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def label(self, lang: Lang) -> str:
        return self.label_zh if lang == "zh" else self.label_en


def _k(key: str, en: str, zh: str, fmt: Format, desc: str, better: bool = True) -> KPI:
    return KPI(key, en, zh, fmt, desc, key.split(".")[0], better)


KPIS: tuple[KPI, ...] = (
    _k("funnel.overall_conversion", "Overall conversion", "整体转化率", "percent",
       "Cohort deals that reached the last stage / deals that entered the first."),
    _k("funnel.win_rate", "Win rate", "赢单率", "percent", "Won / (won + lost) among deals created in the period."),
    _k("funnel.won_deals", "Won deals", "赢单数", "count", "Deals created in the period that are won."),
    _k("funnel.won_amount", "Won revenue", "赢单金额", "money", "Sum of the amounts of won cohort deals."),
    _k("funnel.avg_won_amount", "Average won deal", "平均赢单金额", "money", "Mean amount of won cohort deals."),
    _k("funnel.avg_sales_cycle_days", "Sales cycle", "销售周期", "days",
       "Mean days from creation to close of won cohort deals.", better=False),
    _k("funnel.open_deals", "Open deals", "进行中商机", "count", "Cohort deals still open."),
    _k("funnel.pipeline_velocity_per_day", "Pipeline velocity", "管道速度", "money",
       "Open deals × win rate × average won deal / sales cycle: expected revenue per day."),
    _k("churn.active_accounts_start", "Active accounts at start", "期初活跃客户", "count",
       "Accounts with an active contract on the first day."),
    _k("churn.churned_accounts", "Churned accounts", "流失客户", "count",
       "Accounts active on the first day and not on the last.", better=False),
    _k("churn.logo_churn_rate", "Logo churn", "客户流失率", "percent",
       "Churned accounts / accounts active at the start.", better=False),
    _k("churn.mrr_start", "MRR at start", "期初MRR", "money", "Monthly recurring revenue of the starting accounts."),
    _k("churn.mrr_end", "MRR at end", "期末MRR", "money", "MRR of the same accounts on the last day."),
    _k("churn.gross_revenue_retention", "Gross revenue retention", "总收入留存率", "percent",
       "Σ min(MRR end, MRR start) / MRR start: keeps contraction and churn, ignores expansion."),
    _k("churn.net_revenue_retention", "Net revenue retention", "净收入留存率", "percent",
       "MRR end / MRR start of the starting accounts, expansion included."),
    _k("satisfaction.csat", "CSAT", "客户满意度", "percent", "Share of CSAT answers of 4 or 5 (95% Wilson interval)."),
    _k("satisfaction.csat_responses", "CSAT responses", "满意度答卷数", "count", "CSAT answers in the period."),
    _k("satisfaction.nps", "NPS", "净推荐值", "nps", "Promoters (9–10) minus detractors (0–6), in points."),
    _k("satisfaction.nps_responses", "NPS responses", "NPS答卷数", "count", "NPS answers in the period."),
    _k("satisfaction.ces", "CES", "客户费力度", "score", "Mean customer effort score (1–7).", better=False),
    _k("satisfaction.median_first_response_hours", "Median first response", "首次响应中位数", "hours",
       "Median hours to the first response over answered tickets.", better=False),
    _k("satisfaction.sla_met_rate", "First-response SLA met", "首次响应达标率", "percent",
       "Tickets answered within the SLA / all tickets opened (unanswered tickets miss it)."),
    _k("satisfaction.tickets", "Tickets", "工单数", "count", "Tickets opened in the period.", better=False),
    _k("commission.total_payout", "Commission payout", "佣金支出", "money",
       "Commission + referral commission − clawbacks over the rows shown.", better=False),
)

# The dashboard's own figures, beside the CONTRACT §4 JSON (the CLI prints only KPIS).
PAGE_KPIS: tuple[KPI, ...] = (
    _k("pipeline.open_amount", "Open pipeline", "在途商机金额", "money",
       "Amount of the deals open at the end of the period: created by then, not yet closed."),
    _k("pipeline.open_deals", "Open pipeline deals", "在途商机数", "count",
       "Deals open at the end of the period: created by then, not yet closed."),
)

KPI_BY_KEY: dict[str, KPI] = {k.key: k for k in (*KPIS, *PAGE_KPIS)}

# Labels of the commission rows and the funnel stage rows, for tables in the CLI and pages.
COLUMN_LABELS: dict[str, tuple[str, str, Format]] = {
    "stage": ("Stage", "阶段", "number"),
    "phase": ("Phase", "阶段组", "number"),
    "entered": ("Entered", "进入数", "count"),
    "conversion_to_next": ("Conversion to next", "下一阶段转化率", "percent"),
    "median_days_in_stage": ("Median days in stage", "阶段停留中位天数", "days"),
    "rep_id": ("Person", "人员", "number"),
    "rep_name": ("Name", "姓名", "number"),
    "period_start": ("Period", "周期", "number"),
    "credited_revenue": ("Credited revenue", "计入业绩", "money"),
    "quota": ("Quota", "指标", "money"),
    "attainment": ("Attainment", "达成率", "percent"),
    "commission": ("Commission", "佣金", "money"),
    "referral_commission": ("Referral", "推荐佣金", "money"),
    "clawback": ("Clawback", "追回", "money"),
    "payout": ("Payout", "应发", "money"),
    "rows": ("Rows", "行数", "count"),
    "rank": ("Rank", "排名", "count"),
    "name": ("Name", "姓名", "number"),
    "role": ("Role", "角色", "number"),
    "region": ("Region", "区域", "number"),
    "segment": ("Segment", "客户类型", "number"),
    "group": ("Group", "分组", "number"),
    "account_id": ("Account", "客户编号", "number"),
    "account_name": ("Account name", "客户名称", "number"),
    "industry": ("Industry", "行业", "number"),
    "owner_rep_id": ("Owner id", "负责人编号", "number"),
    "created_at": ("Created", "创建时间", "number"),
    "owner_name": ("Owner", "负责人", "number"),
    "deal_id": ("Deal", "商机编号", "number"),
    "amount": ("Amount", "金额", "money"),
    "mrr": ("MRR", "MRR", "money"),
    "mrr_now": ("MRR now", "当前MRR", "money"),
    "won_amount": ("Won revenue", "赢单金额", "money"),
    "avg_won_amount": ("Average won deal", "平均赢单金额", "money"),
    "won_deals": ("Won deals", "赢单数", "count"),
    "lost_deals": ("Lost deals", "输单数", "count"),
    "open_deals": ("Open deals", "进行中商机", "count"),
    "win_rate": ("Win rate", "赢单率", "percent"),
    "overall_conversion": ("Overall conversion", "整体转化率", "percent"),
    "avg_sales_cycle_days": ("Sales cycle (days)", "销售周期（天）", "days"),
    "pipeline_velocity_per_day": ("Velocity per day", "每日管道速度", "money"),
    "payout_a": ("Current plan", "当前方案", "money"),
    "payout_b": ("What-if plan", "假设方案", "money"),
    "difference": ("Difference", "差额", "money"),
    "referral": ("Referral", "推荐佣金", "money"),
    "credited": ("Credited", "计入业绩", "money"),
    "share": ("Share", "分成比例", "percent"),
    "rate": ("Rate", "提成比例", "percent"),
    "referred_amount": ("Referred amount", "推荐金额", "money"),
    "referred_deals": ("Referred deals", "推荐商机数", "count"),
    "referral_clawback": ("Referral clawed back", "推荐佣金追回", "money"),
    "net": ("Net", "净额", "money"),
    "people": ("People", "人数", "count"),
    "health_score": ("Health", "健康分", "score"),
    "reasons": ("Why", "原因", "number"),
    "csat": ("CSAT", "客户满意度", "percent"),
    "nps": ("NPS", "净推荐值", "nps"),
    "ces": ("CES", "客户费力度", "score"),
    "tickets": ("Tickets", "工单数", "count"),
    "sla_met_rate": ("SLA met", "响应达标率", "percent"),
    "median_first_response_hours": ("Median first response (h)", "首次响应中位数（小时）", "hours"),
    "completeness": ("Completeness", "完整度", "percent"),
    "orphans": ("Orphans", "孤立记录", "count"),
    # the Data page: load log and columns
    "table_name": ("Table", "数据表", "number"),
    "load_id": ("Load", "加载编号", "number"),
    "file_name": ("File", "文件", "number"),
    "sha256": ("SHA-256", "SHA-256", "number"),
    "rejected": ("Rejected", "拒绝行数", "count"),
    "mode": ("Mode", "方式", "number"),
    "loaded_at": ("Loaded at", "加载时间", "number"),
    "column": ("Column", "列", "number"),
    "kind": ("Kind", "类型", "number"),
    "required": ("Required", "必填", "number"),
    "references": ("References", "引用", "number"),
    "non_null": ("Non-empty", "非空数", "count"),
    "distinct": ("Distinct values", "不同值个数", "count"),
    "row": ("Row", "行号", "number"),
    "value": ("Value", "值", "number"),
    "reason": ("Reason", "原因", "number"),
}

CURRENCY_SYMBOL = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


def format_value(value: Any, fmt: Format, lang: Lang = "en", currency: str = "CNY", compact: bool = False) -> str:
    """Format a number for people: ¥ and thousands separators, %, days; '—' for undefined.

    `compact` shortens large money for tiles: ¥34.4M in English, ¥3,438万 in Chinese.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    if fmt == "percent":
        return f"{value * 100:.1f}%"
    if fmt == "money":
        symbol = CURRENCY_SYMBOL.get(currency, currency + " ")
        if lang == "zh" and abs(value) >= 100_000_000:
            return f"{symbol}{value / 100_000_000:,.2f}亿"
        if lang == "zh" and abs(value) >= 10_000:
            # a tile is narrow: from 100万 on the tenths add nothing anyone reads
            return f"{symbol}{value / 10_000:,.{0 if compact and abs(value) >= 1_000_000 else 1}f}万"
        sign = "-" if value < 0 else ""
        if compact and lang != "zh":
            for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
                if abs(value) >= size:
                    return f"{sign}{symbol}{abs(value) / size:,.1f}{suffix}"
        return f"{sign}{symbol}{abs(value):,.0f}"
    if fmt == "days":
        return f"{value:,.1f} 天" if lang == "zh" else f"{value:,.1f} d"
    if fmt == "hours":
        return f"{value:,.1f} 小时" if lang == "zh" else f"{value:,.1f} h"
    if fmt == "count":
        return f"{value:,.0f}"
    if fmt == "nps":
        return f"{value:+.1f}"
    if fmt == "score":
        return f"{value:.2f}"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def lookup(kpis: Mapping[str, Any] | None, key: str) -> Any:
    """The value at `key` ("family.name") in a `kpis` JSON object."""
    family, name = key.split(".", 1)
    return (kpis or {}).get(family, {}).get(name)
