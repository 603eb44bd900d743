"""Every KPI, and every other column a table shows, declared once: labels, descriptions, formats.

As in Rill's metrics views and dbt MetricFlow, a KPI is a declaration: key, labels and description
in English and Chinese, format, and kind (`simple`: one aggregate; `ratio`: Σ numerator / Σ
denominator, undefined when the denominator is 0; `derived`: a formula of other figures, named in
`inputs`). The CLI's table output and the dashboard's tiles and table headers read them from here
and never retype them (the formulas are the contract's; docs/metrics.md is prose, by hand). `key` is the KPI's path in the `kpis` JSON (CONTRACT §4), e.g.
"funnel.win_rate"; a measure (`MEASURES`) is a figure a ratio is made of that the JSON need not carry.

A table column is either a KPI's (its header is the KPI's label: `csat_n` is
"satisfaction.csat_responses") or declared in `COLUMNS` (ids, names, dates, per-row amounts).
`column(name)` answers both; a column it does not know keeps its name, and the page tests fail on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["percent", "money", "days", "hours", "count", "score", "nps", "number", "text", "date"]
Kind = Literal["simple", "ratio", "derived"]
Lang = Literal["en", "zh"]


@dataclass(frozen=True)
class Text:
    """One text in both languages."""

    en: str
    zh: str

    def of(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class KPI:
    """A figure people read: what it is called, what it means, how it is shown and made."""

    key: str
    label: Text
    description: Text
    format: Format
    kind: Kind
    # for a ratio: the keys of Σ numerator and Σ denominator (KPIs or measures)
    numerator: str | None = None
    denominator: str | None = None
    # for a derived figure: the keys it is computed from
    inputs: tuple[str, ...] = ()
    # True when a rise is good news (tiles colour their change by it)
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if (self.kind == "ratio") != (self.numerator is not None and self.denominator is not None):
            raise TypeError(f"{self.key}: a ratio, and only a ratio, names a numerator and a denominator")
        if (self.kind == "derived") != bool(self.inputs):
            raise TypeError(f"{self.key}: a derived figure, and only a derived figure, names its inputs")

    @property
    def family(self) -> str:
        """The metric family (and page) that explains it: "funnel" for "funnel.win_rate"."""
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        """Its name in the family's JSON object and in tables: "win_rate"."""
        return self.key.split(".", 1)[1]


def _simple(key: str, en: str, zh: str, fmt: Format, desc_en: str, desc_zh: str, *, better: bool = True) -> KPI:
    return KPI(key, Text(en, zh), Text(desc_en, desc_zh), fmt, "simple", higher_is_better=better)


def _ratio(key: str, en: str, zh: str, fmt: Format, numerator: str, denominator: str, desc_en: str, desc_zh: str,
           *, better: bool = True) -> KPI:
    return KPI(key, Text(en, zh), Text(desc_en, desc_zh), fmt, "ratio", numerator, denominator,
               higher_is_better=better)


def _derived(key: str, en: str, zh: str, fmt: Format, inputs: tuple[str, ...], desc_en: str, desc_zh: str,
             *, better: bool = True) -> KPI:
    return KPI(key, Text(en, zh), Text(desc_en, desc_zh), fmt, "derived", inputs=inputs, higher_is_better=better)


KPIS: tuple[KPI, ...] = (
    _ratio("funnel.overall_conversion", "Overall conversion", "整体转化率", "percent",
           "funnel.reached_last_stage", "funnel.entered_first_stage",
           "Cohort deals that reached the last stage / deals that entered the first.",
           "同期商机中到达最后阶段的数量 / 进入第一阶段的数量。"),
    _ratio("funnel.win_rate", "Win rate", "赢单率", "percent", "funnel.won_deals", "funnel.closed_deals",
           "Won / (won + lost) among deals created in the period.",
           "期间内创建的商机中：赢单数 /（赢单数 + 输单数）。"),
    _simple("funnel.won_deals", "Won deals", "赢单数", "count",
            "Deals created in the period that are won.", "期间内创建且已赢单的商机数。"),
    _simple("funnel.won_amount", "Won revenue", "赢单金额", "money",
            "Sum of the amounts of won cohort deals.", "同期赢单商机的金额合计。"),
    _ratio("funnel.avg_won_amount", "Average won deal", "平均赢单金额", "money", "funnel.won_amount",
           "funnel.won_deals", "Mean amount of won cohort deals.", "同期赢单商机的平均金额。"),
    _simple("funnel.avg_sales_cycle_days", "Sales cycle", "销售周期", "days",
            "Mean days from creation to close of won cohort deals.", "同期赢单商机从创建到成交的平均天数。",
            better=False),
    _simple("funnel.open_deals", "Open deals", "进行中商机", "count",
            "Cohort deals still open.", "同期商机中仍在进行的数量。"),
    _derived("funnel.pipeline_velocity_per_day", "Pipeline velocity", "管道速度", "money",
             ("funnel.open_deals", "funnel.win_rate", "funnel.avg_won_amount", "funnel.avg_sales_cycle_days"),
             "Open deals × win rate × average won deal / sales cycle: expected revenue per day.",
             "进行中商机数 × 赢单率 × 平均赢单金额 / 销售周期：每天的预期收入。"),
    _simple("churn.active_accounts_start", "Active accounts at start", "期初活跃客户", "count",
            "Accounts with an active contract on the first day.", "期间第一天有生效合同的客户数。"),
    _simple("churn.churned_accounts", "Churned accounts", "流失客户", "count",
            "Accounts active on the first day and not on the last.", "第一天活跃、最后一天不再活跃的客户数。",
            better=False),
    _ratio("churn.logo_churn_rate", "Logo churn", "客户流失率", "percent", "churn.churned_accounts",
           "churn.active_accounts_start", "Churned accounts / accounts active at the start.",
           "流失客户数 / 期初活跃客户数。", better=False),
    _simple("churn.mrr_start", "MRR at start", "期初MRR", "money",
            "Monthly recurring revenue of the starting accounts.", "期初活跃客户的月度经常性收入。"),
    _simple("churn.mrr_end", "MRR at end", "期末MRR", "money",
            "MRR of the same accounts on the last day.", "同一批客户在期间最后一天的 MRR。"),
    _ratio("churn.gross_revenue_retention", "Gross revenue retention", "总收入留存率", "percent",
           "churn.retained_mrr", "churn.mrr_start",
           "Σ min(MRR end, MRR start) / MRR start: keeps contraction and churn, ignores expansion.",
           "Σ min(期末MRR, 期初MRR) / 期初MRR：计入降级与流失，不计扩展。"),
    _ratio("churn.net_revenue_retention", "Net revenue retention", "净收入留存率", "percent",
           "churn.mrr_end", "churn.mrr_start",
           "MRR end / MRR start of the starting accounts, expansion included.",
           "期初客户的期末MRR / 期初MRR，含扩展。"),
    _ratio("satisfaction.csat", "CSAT", "客户满意度", "percent", "satisfaction.csat_satisfied",
           "satisfaction.csat_responses", "Share of CSAT answers of 4 or 5 (95% Wilson interval).",
           "满意度答卷中 4 分或 5 分的占比（95% Wilson 区间）。"),
    _simple("satisfaction.csat_responses", "CSAT responses", "满意度答卷数", "count",
            "CSAT answers in the period.", "期间内的满意度答卷数。"),
    _derived("satisfaction.nps", "NPS", "净推荐值", "nps",
             ("satisfaction.nps_promoters", "satisfaction.nps_detractors", "satisfaction.nps_responses"),
             "Promoters (9–10) minus detractors (0–6), in points.", "推荐者（9–10 分）占比减去贬损者（0–6 分）占比，单位为点。"),
    _simple("satisfaction.nps_responses", "NPS responses", "NPS答卷数", "count",
            "NPS answers in the period.", "期间内的 NPS 答卷数。"),
    _simple("satisfaction.ces", "CES", "客户费力度", "score",
            "Mean customer effort score (1–7).", "客户费力度平均分（1–7）。", better=False),
    _simple("satisfaction.median_first_response_hours", "Median first response", "首次响应中位数", "hours",
            "Median hours to the first response over answered tickets.", "已响应工单首次响应时间的中位数（小时）。",
            better=False),
    _ratio("satisfaction.sla_met_rate", "First-response SLA met", "首次响应达标率", "percent",
           "satisfaction.sla_met_tickets", "satisfaction.tickets",
           "Tickets answered within the SLA / all tickets opened (unanswered tickets miss it).",
           "在 SLA 内响应的工单 / 全部新建工单（未响应的工单视为未达标）。"),
    _simple("satisfaction.tickets", "Tickets", "工单数", "count",
            "Tickets opened in the period.", "期间内新建的工单数。", better=False),
    _simple("commission.total_payout", "Commission payout", "佣金支出", "money",
            "Commission + referral commission − clawbacks over the rows shown.", "所示各行的佣金 + 推荐佣金 − 追回。",
            better=False),
    # (v2) bookings: deals closed in the period, whenever created
    _simple("bookings.won_deals", "Won deals (closed)", "成交赢单数", "count",
            "Won deals with a close date in the period.", "成交日期在期间内的赢单商机数。"),
    _simple("bookings.won_amount", "Bookings", "成交金额", "money",
            "Amount of the won deals closed in the period, whenever created.", "期间内成交的赢单商机金额（不论何时创建）。"),
    _simple("bookings.lost_deals", "Lost deals (closed)", "成交输单数", "count",
            "Lost deals with a close date in the period.", "关闭日期在期间内的输单商机数。", better=False),
    _ratio("bookings.win_rate", "Win rate (closed)", "成交赢单率", "percent", "bookings.won_deals",
           "bookings.closed_deals", "Won / (won + lost) among deals closed in the period.",
           "期间内关闭的商机中：赢单数 /（赢单数 + 输单数）。"),
    _ratio("bookings.avg_won_amount", "Average booking", "平均成交金额", "money", "bookings.won_amount",
           "bookings.won_deals_with_amount", "Mean amount of the won deals closed in the period that have one.",
           "期间内成交且有金额的赢单商机的平均金额。"),
    # (v2) MRR movements: the bridge from MRR on the first day to MRR on the last, every account
    _simple("mrr_movements.mrr_start", "MRR at start (all)", "期初MRR（全部客户）", "money",
            "MRR of every account on the first day.", "全部客户在期间第一天的 MRR。"),
    _simple("mrr_movements.new", "New MRR", "新增MRR", "money",
            "MRR on the last day of accounts without MRR on the first that never had a contract before.",
            "期初无 MRR、此前从未有合同的客户在期末的 MRR。"),
    _simple("mrr_movements.reactivation", "Reactivation MRR", "回流MRR", "money",
            "MRR on the last day of former customers without MRR on the first day.",
            "期初无 MRR 的老客户在期末的 MRR。"),
    _simple("mrr_movements.expansion", "Expansion MRR", "扩展MRR", "money",
            "Growth of the MRR of accounts paying on both days.", "两天都有 MRR 的客户的 MRR 增长。"),
    _simple("mrr_movements.contraction", "Contraction MRR", "收缩MRR", "money",
            "Fall of the MRR of accounts still paying on the last day.", "期末仍有 MRR 的客户的 MRR 下降。",
            better=False),
    _simple("mrr_movements.churn", "Churned MRR", "流失MRR", "money",
            "MRR on the first day of accounts without MRR on the last.", "期末无 MRR 的客户在期初的 MRR。",
            better=False),
    _simple("mrr_movements.mrr_end", "MRR at end (all)", "期末MRR（全部客户）", "money",
            "MRR of every account on the last day.", "全部客户在期间最后一天的 MRR。"),
    _derived("mrr_movements.net_new_mrr", "Net new MRR", "净新增MRR", "money",
             ("mrr_movements.new", "mrr_movements.reactivation", "mrr_movements.expansion",
              "mrr_movements.contraction", "mrr_movements.churn"),
             "MRR at end − MRR at start = new + reactivation + expansion − contraction − churn.",
             "期末MRR − 期初MRR = 新增 + 回流 + 扩展 − 收缩 − 流失。"),
    _derived("mrr_movements.quick_ratio", "Quick ratio", "快速比率", "number",
             ("mrr_movements.new", "mrr_movements.reactivation", "mrr_movements.expansion",
              "mrr_movements.contraction", "mrr_movements.churn"),
             "(New + reactivation + expansion) / (contraction + churn): MRR gained per unit lost.",
             "（新增 + 回流 + 扩展）/（收缩 + 流失）：每流失 1 元 MRR 对应的增长。"),
    _ratio("mrr_movements.arpa", "ARPA", "客户平均MRR", "money", "mrr_movements.mrr_end",
           "mrr_movements.paying_accounts", "MRR at end / accounts with MRR on the last day.",
           "期末MRR / 期末有 MRR 的客户数。"),
    # (v2) collection (回款)
    _simple("collection.due", "Due", "应回款", "money",
            "Amount due on installments due in the period.", "期间内到期的回款计划金额。"),
    _simple("collection.collected_against_due", "Collected against due", "到期已回款", "money",
            "What was paid by the last day on the installments due in the period.",
            "期间内到期的回款计划在期末前已收回的金额。"),
    _ratio("collection.collection_rate", "Collection rate", "回款率", "percent", "collection.collected_against_due",
           "collection.due", "Collected against due / due.", "到期已回款 / 应回款。"),
    _simple("collection.collected", "Collected", "实际回款", "money",
            "Cash received in the period, planned or not.", "期间内实际收到的回款（含无计划的回款）。"),
    _simple("collection.overdue", "Overdue", "逾期未回款", "money",
            "What is still unpaid on the last day of installments due before it.",
            "期末之前到期、到期末仍未收回的金额。", better=False),
    # (v2) forecast (销售预测): deals as they are now, open deals expected to close in the period
    _simple("forecast.closed_won", "Closed won", "已赢单", "money",
            "Amount of the won deals closed in the period (= bookings).", "期间内成交的赢单金额（即成交金额）。"),
    _simple("forecast.commit", "Commit", "确定成交", "money",
            "Open deals expected to close in the period, forecast category commit.",
            "预计在期间内成交、预测类别为确定成交的进行中商机金额。"),
    _simple("forecast.best_case", "Best case", "最佳情况", "money",
            "Open deals expected to close in the period, forecast category best case.",
            "预计在期间内成交、预测类别为最佳情况的进行中商机金额。"),
    _simple("forecast.pipeline", "Pipeline (expected)", "预计管道", "money",
            "Open deals expected to close in the period, forecast category pipeline or none.",
            "预计在期间内成交、预测类别为管道或未填的进行中商机金额。"),
    _simple("forecast.weighted", "Weighted pipeline", "加权管道", "money",
            "Σ amount × win probability of the expected deals not omitted: the deal's own, else the "
            "configured or learned one of its stage.",
            "预计成交且未排除商机的 Σ 金额 × 赢单概率：商机自带概率，否则为其阶段的配置或历史概率。"),
)

# The dashboard's own figures, beside the CONTRACT §4 JSON (the CLI prints only KPIS).
PAGE_KPIS: tuple[KPI, ...] = (
    _simple("pipeline.open_amount", "Open pipeline", "在途商机金额", "money",
            "Amount of the deals open at the end of the period: created by then, not yet closed.",
            "期末仍在进行的商机金额：此前已创建、尚未关闭。"),
    _simple("pipeline.open_deals", "Open pipeline deals", "在途商机数", "count",
            "Deals open at the end of the period: created by then, not yet closed.",
            "期末仍在进行的商机数：此前已创建、尚未关闭。"),
)

# What the ratios and derived figures are made of, and counts the tables show beside them.
MEASURES: tuple[KPI, ...] = (
    _simple("funnel.entered_first_stage", "Entered the first stage", "进入首阶段", "count",
            "Cohort deals that entered the first stage.", "进入第一阶段的同期商机数。"),
    _simple("funnel.reached_last_stage", "Reached the last stage", "到达末阶段", "count",
            "Cohort deals that reached the last stage.", "到达最后阶段的同期商机数。"),
    _simple("funnel.lost_deals", "Lost deals", "输单数", "count",
            "Deals created in the period that are lost.", "期间内创建且已输单的商机数。", better=False),
    _simple("funnel.closed_deals", "Closed deals", "已关闭商机", "count",
            "Won + lost deals created in the period.", "期间内创建的赢单数 + 输单数。"),
    _simple("churn.retained_mrr", "Retained MRR", "留存MRR", "money",
            "Σ min(MRR end, MRR start) over the starting accounts.", "期初客户的 Σ min(期末MRR, 期初MRR)。"),
    _simple("satisfaction.csat_satisfied", "Satisfied answers", "满意答卷数", "count",
            "CSAT answers of 4 or 5.", "4 分或 5 分的满意度答卷数。"),
    _simple("satisfaction.nps_promoters", "Promoters", "推荐者", "count",
            "NPS answers of 9 or 10.", "9 分或 10 分的 NPS 答卷数。"),
    _simple("satisfaction.nps_detractors", "Detractors", "贬损者", "count",
            "NPS answers of 0 to 6.", "0–6 分的 NPS 答卷数。", better=False),
    _simple("satisfaction.ces_responses", "CES responses", "费力度答卷数", "count",
            "CES answers in the period.", "期间内的客户费力度答卷数。"),
    _simple("satisfaction.sla_met_tickets", "Tickets within the SLA", "SLA内响应工单", "count",
            "Tickets first answered within the SLA.", "在 SLA 内首次响应的工单数。"),
    _simple("bookings.closed_deals", "Deals closed", "期间关闭商机数", "count",
            "Won + lost deals closed in the period.", "期间内关闭的赢单数 + 输单数。"),
    _simple("bookings.won_deals_with_amount", "Won deals with an amount", "有金额的成交赢单数", "count",
            "Won deals closed in the period that have an amount.", "期间内成交且有金额的赢单商机数。"),
    _simple("mrr_movements.paying_accounts", "Paying accounts", "付费客户数", "count",
            "Accounts with MRR on the last day.", "期末有 MRR 的客户数。"),
)

KPI_BY_KEY: dict[str, KPI] = {k.key: k for k in (*KPIS, *PAGE_KPIS, *MEASURES)}


def kpi(key: str) -> KPI:
    """The declaration of `key` ("family.name"); KeyError names the key when it is not declared."""
    return KPI_BY_KEY[key]


# ---- table columns -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A column a table shows: its header in both languages and how its cells are formatted."""

    name: str
    label: Text
    format: Format
    description: Text | None = None


def _col(name: str, en: str, zh: str, fmt: Format = "text") -> Column:
    return Column(name, Text(en, zh), fmt)


# Columns that show a KPI or measure: the header is the KPI's label, the cells its format.
KPI_COLUMNS: dict[str, str] = {
    **{k.name: k.key for k in (*KPIS, *MEASURES) if k.family in ("funnel", "satisfaction", "churn")},
    **{k.name: k.key for k in KPIS if k.family == "collection"},  # due, collected, overdue … per month or group
    "csat_n": "satisfaction.csat_responses",
    "nps_n": "satisfaction.nps_responses",
    "ces_n": "satisfaction.ces_responses",
}

COLUMNS: dict[str, Column] = {c.name: c for c in (
    # people, accounts, deals: ids and names
    _col("rep_id", "Person", "人员"),
    _col("rep_name", "Name", "姓名"),
    _col("name", "Name", "姓名"),
    _col("role", "Role", "角色"),
    _col("team", "Team", "团队"),
    _col("manager_id", "Manager", "上级"),
    _col("hire_date", "Hired", "入职日期", "date"),
    _col("is_owner", "Owns the account", "客户负责人"),
    _col("account_id", "Account", "客户编号"),
    _col("account_name", "Account name", "客户名称"),
    _col("region", "Region", "区域"),
    _col("segment", "Segment", "客户类型"),
    _col("industry", "Industry", "行业"),
    _col("owner_rep_id", "Owner id", "负责人编号"),
    _col("owner_name", "Owner", "负责人"),
    _col("created_at", "Created", "创建时间", "date"),
    _col("deal_id", "Deal", "商机编号"),
    _col("stage", "Stage", "阶段"),
    _col("phase", "Phase", "阶段组"),
    _col("status", "Status", "状态"),
    _col("amount", "Amount", "金额", "money"),
    _col("closed_at", "Closed", "关闭时间", "date"),
    _col("expected_close_at", "Expected close", "预计成交日期", "date"),
    _col("probability", "Probability", "赢单概率", "percent"),
    _col("forecast_category", "Forecast category", "预测类别"),
    _col("snapshot_date", "Snapshot date", "快照日期", "date"),
    _col("referrer_id", "Referrer", "推荐人"),
    _col("source", "Source", "来源"),
    _col("stage_path", "Stage path", "阶段路径"),
    _col("reach_stage", "Furthest stage", "到达的最远阶段"),
    _col("entered_at", "Entered", "进入时间", "date"),
    _col("share", "Share", "分成比例", "percent"),
    _col("deals", "Deals", "商机数", "count"),
    # contracts and MRR
    _col("contract_id", "Contract", "合同编号"),
    _col("start_date", "Start", "开始日期", "date"),
    _col("end_date", "End", "结束日期", "date"),
    _col("mrr", "MRR", "MRR", "money"),
    _col("mrr_now", "MRR now", "当前MRR", "money"),
    _col("mrr_change", "MRR change (90 d)", "MRR 变化（90天）", "percent"),
    _col("active_mrr", "Active MRR", "有效MRR", "money"),
    _col("accounts", "Accounts", "客户数", "count"),
    # payments
    _col("payment_id", "Payment", "回款编号"),
    _col("due_date", "Due date", "应收日期", "date"),
    _col("amount_due", "Amount due", "应收金额", "money"),
    _col("paid_at", "Paid", "回款日期", "date"),
    _col("amount_paid", "Amount paid", "实收金额", "money"),
    _col("aging", "Overdue for", "逾期时长"),
    _col("days_overdue", "Days overdue", "逾期天数", "count"),
    _col("paid_by_to", "Paid by period end", "期末前已回款", "money"),
    _col("outstanding", "Outstanding", "未回款", "money"),
    _col("aging_1_30", "Overdue 1–30 days", "逾期 1–30 天", "money"),
    _col("aging_31_60", "Overdue 31–60 days", "逾期 31–60 天", "money"),
    _col("aging_61_90", "Overdue 61–90 days", "逾期 61–90 天", "money"),
    _col("aging_over_90", "Overdue over 90 days", "逾期 90 天以上", "money"),
    _col("month", "Month", "月份", "date"),
    _col("cohort", "Cohort", "同期群", "date"),
    # health
    _col("health_score", "Health", "健康分", "score"),
    _col("reasons", "Why", "原因"),
    _col("days_since_activity", "Days since activity", "距上次跟进天数", "count"),
    _col("open_tickets", "Open tickets", "未结工单", "count"),
    # tickets, surveys, activities
    _col("ticket_id", "Ticket", "工单编号"),
    _col("opened_at", "Opened", "开单时间", "date"),
    _col("first_response_at", "First response", "首次响应时间", "date"),
    _col("resolved_at", "Resolved", "解决时间", "date"),
    _col("first_response_hours", "Hours to first response", "首次响应用时", "hours"),
    _col("channel", "Channel", "渠道"),
    _col("priority", "Priority", "优先级"),
    _col("assignee_id", "Assignee", "处理人"),
    _col("response_id", "Response", "答卷编号"),
    _col("submitted_at", "Submitted", "提交时间", "date"),
    _col("kind", "Kind", "类型"),
    _col("score", "Score", "分数", "number"),
    _col("comment", "Comment", "备注"),
    _col("activity_id", "Activity", "活动编号"),
    _col("occurred_at", "When", "发生时间", "date"),
    _col("group", "Group", "分组"),
    _col("rep", "Rep", "销售"),
    _col("small_sample", "Under 30 responses", "样本少于30"),
    # funnel stages
    _col("entered", "Entered", "进入数", "count"),
    _col("conversion_to_next", "Conversion to next", "下一阶段转化率", "percent"),
    _col("median_days_in_stage", "Median days in stage", "阶段停留中位天数", "days"),
    # commission
    _col("rank", "Rank", "排名", "count"),
    _col("period_start", "Period", "周期", "date"),
    _col("credited_revenue", "Credited revenue", "计入业绩", "money"),
    _col("quota", "Quota", "指标", "money"),
    _col("quota_amount", "Quota", "指标", "money"),
    # targets
    _col("level", "Level", "层级"),
    _col("key", "For", "对象"),
    _col("period", "Period type", "周期类型"),
    _col("basis", "Basis", "口径"),
    _col("attainment", "Attainment", "达成率", "percent"),
    _col("target", "Target", "目标", "money"),
    _col("actual", "Actual", "实际完成", "money"),
    _col("expected_to_date", "Expected to date", "至今应完成", "money"),
    _col("pace", "Pace", "进度达成率", "percent"),
    _col("commission", "Commission", "佣金", "money"),
    _col("referral_commission", "Referral", "推荐佣金", "money"),
    _col("clawback", "Clawback", "追回", "money"),
    _col("payout", "Payout", "应发", "money"),
    _col("payout_a", "Current plan", "当前方案", "money"),
    _col("payout_b", "What-if plan", "假设方案", "money"),
    _col("difference", "Difference", "差额", "money"),
    _col("line", "Line", "类别"),
    _col("origin_period", "Credited in", "原计入周期", "date"),
    _col("referral", "Referral", "推荐佣金", "money"),
    _col("credited", "Credited", "计入业绩", "money"),
    _col("rate", "Rate", "提成比例", "percent"),
    _col("up_to", "Attainment up to (empty = open)", "达成率上限（空=不封顶）", "number"),
    _col("referred_amount", "Referred amount", "推荐金额", "money"),
    _col("referred_deals", "Referred deals", "推荐商机数", "count"),
    _col("referral_clawback", "Referral clawed back", "推荐佣金追回", "money"),
    _col("net", "Net", "净额", "money"),
    _col("people", "People", "人数", "count"),
    # data quality, the load log, columns of a table
    _col("rows", "Rows", "行数", "count"),
    _col("completeness", "Completeness", "完整度", "percent"),
    _col("orphans", "Orphans", "孤立记录", "count"),
    _col("table_name", "Table", "数据表"),
    _col("load_id", "Load", "加载编号"),
    _col("file_name", "File", "文件"),
    _col("sha256", "SHA-256", "SHA-256"),
    _col("rejected", "Rejected", "拒绝行数", "count"),
    _col("mode", "Mode", "方式"),
    _col("mapping", "Mapping", "列映射"),
    _col("loaded_at", "Loaded at", "加载时间", "date"),
    _col("column", "Column", "列"),
    _col("required", "Required", "必填"),
    _col("references", "References", "引用"),
    _col("header", "Header in the file", "文件中的列名"),
    _col("non_null", "Non-empty", "非空数", "count"),
    _col("distinct", "Distinct values", "不同值个数", "count"),
    _col("row", "Row", "行号", "count"),
    _col("value", "Value", "值"),
    _col("reason", "Reason", "原因"),
)}

# Columns named after a stage, one per configured stage: "entered_proposal" is "Entered · proposal".
COLUMN_PREFIXES: dict[str, Column] = {c.name: c for c in (
    _col("entered_", "Entered · {}", "进入 · {}", "count"),
)}


# The values of a few columns are codes of the contract (CONTRACT §2) or of b2bmetrics itself;
# tables and charts show them in words. Other values are the user's own data and show as they are.
VALUE_LABELS: dict[str, dict[str, Text]] = {
    "role": {"sales": Text("Sales", "销售"), "employee": Text("Employee", "员工"),
             "partner": Text("Partner", "合作伙伴")},
    "status": {"open": Text("Open", "进行中"), "won": Text("Won", "赢单"), "lost": Text("Lost", "输单")},
    "phase": {"engage": Text("Engage", "接触"), "discover": Text("Discover", "发现"), "close": Text("Close", "成交"),
              "serve": Text("Serve", "服务")},
    "line": {"credit": Text("Credit", "业绩计入"), "referral": Text("Referral", "推荐佣金"),
             "clawback": Text("Clawback", "追回"), "referral_clawback": Text("Referral clawback", "推荐佣金追回")},
    "mode": {"replace": Text("Replace", "替换"), "append": Text("Append", "追加")},
    # (v2) targets: level, period type and basis (CONTRACT §2 targets)
    "level": {"company": Text("Company", "公司"), "region": Text("Region", "区域"), "team": Text("Team", "团队"),
              "rep": Text("Rep", "销售")},
    "period": {"month": Text("Month", "月度"), "quarter": Text("Quarter", "季度"), "year": Text("Year", "年度")},
    "basis": {"booked": Text("Booked", "签约口径"), "collected": Text("Collected", "回款口径")},
    # (v2) collection: the overdue aging buckets (CONTRACT §4 `overdue_aging` keys)
    "aging": {"1_30": Text("1–30 days", "1–30 天"), "31_60": Text("31–60 days", "31–60 天"),
              "61_90": Text("61–90 days", "61–90 天"), "over_90": Text("Over 90 days", "90 天以上")},
    # activities and surveys (CONTRACT §2), and the usual ticket channels and priorities
    "kind": {"visit": Text("Visit", "拜访"), "call": Text("Call", "电话"), "email": Text("Email", "邮件"),
             "message": Text("Message", "消息"), "training": Text("Training", "培训"),
             "meeting": Text("Meeting", "会议"),
             **{k: KPI_BY_KEY[f"satisfaction.{k}"].label for k in ("csat", "nps", "ces")}},
    "channel": {"online": Text("Online", "线上"), "offline": Text("Offline", "线下"), "phone": Text("Phone", "电话"),
                "wechat": Text("WeChat", "微信"), "email": Text("Email", "邮件")},
    "priority": {"low": Text("Low", "低"), "normal": Text("Normal", "普通"), "high": Text("High", "高"),
                 "urgent": Text("Urgent", "紧急")},
}


def value_label(column_name: str, value: Any, lang: Lang) -> Any:
    """Code `value` of column `column_name` in words (`VALUE_LABELS`); any other value unchanged."""
    words = VALUE_LABELS.get(column_name, {}).get(value) if isinstance(value, str) else None
    return words.of(lang) if words else value


def column(name: str) -> Column | None:
    """How table column `name` is headed and formatted: a KPI's label, a declared column's, or None."""
    if name in KPI_COLUMNS:
        k = KPI_BY_KEY[KPI_COLUMNS[name]]
        return Column(name, k.label, k.format, k.description)
    if name in COLUMNS:
        return COLUMNS[name]
    for prefix, pattern in COLUMN_PREFIXES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix):]
            return Column(name, Text(pattern.label.en.format(rest), pattern.label.zh.format(rest)), pattern.format)
    return None


def column_label(name: str, lang: Lang) -> str:
    """The header of column `name` in `lang` (its own name when it is not declared)."""
    col = column(name)
    return col.label.of(lang) if col else name


CURRENCY_SYMBOL = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


def format_value(value: Any, fmt: Format, lang: Lang = "en", currency: str = "CNY", compact: bool = False) -> str:
    """Format a number for people: ¥ and thousands separators, %, days; '—' for undefined.

    `compact` shortens large money for tiles: ¥34.4M in English, ¥3,438万 in Chinese.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not isinstance(value, int | float) or isinstance(value, bool) or fmt in ("text", "date"):
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
