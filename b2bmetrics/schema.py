"""Canonical tables (CONTRACT §1): columns, value kinds, keys and the header synonyms of CRM exports.

Everything that knows a column's name or kind reads it from here: ingest, demo, quality and the
metrics. Header synonyms cover canonical names, Salesforce, HubSpot and Pipedrive exports and the
Chinese headers of 纷享销客 / 销售易 / 钉钉; they are compared after `header_key` normalisation
(case-, space- and punctuation-insensitive).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

# How a column's text is parsed and typed in the database.
Kind = Literal[
    "id",  # free text identifier, trimmed
    "text",  # free text
    "person",  # a rep id, or a rep_name resolved to its id
    "timestamp",  # a date or date-time: TIMESTAMP
    "date",  # a calendar date: DATE
    "money",  # a non-negative amount in the dataset currency: DECIMAL(18,4), exact (below 10^14, 4 places)
    "share",  # 0 < share <= 1 (a percentage such as 60% is accepted): DECIMAL(12,10), so amount × share is exact
    "score",  # a survey score checked against its kind's scale
    "stage",  # a pipeline stage after aliases
    "status",  # open / won / lost
    "role",  # sales / employee / partner
    "survey_kind",  # csat / nps / ces
    "channel",  # phone / online / offline / wechat (other values kept lower-cased)
    "activity_kind",  # visit / call / email / message / training / meeting
    "activity_channel",  # online / offline
    "probability",  # 0-1; a value ending in % or above 1 (or any value of a % column) is a percentage
    "forecast_category",  # pipeline / best_case / commit / omitted (Closed ... read as empty)
    "target_level",  # company / region / team / rep
    "target_period",  # month / quarter / year
    "target_basis",  # booked / collected
]

SQL_TYPE: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "person": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "money": "DECIMAL(18,4)",
    "share": "DECIMAL(12,10)",
    "score": "DOUBLE",
    "stage": "VARCHAR",
    "status": "VARCHAR",
    "role": "VARCHAR",
    "survey_kind": "VARCHAR",
    "channel": "VARCHAR",
    "activity_kind": "VARCHAR",
    "activity_channel": "VARCHAR",
    "probability": "DOUBLE",
    "forecast_category": "VARCHAR",
    "target_level": "VARCHAR",
    "target_period": "VARCHAR",
    "target_basis": "VARCHAR",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    synonyms: tuple[str, ...] = ()
    # the table this column points at, for orphans in data quality
    references: str | None = None
    # whether the column's dates count for the default period (filters.date_range_expr): planned
    # and future dates (expected closes, due dates, targets, snapshots) must not move it
    in_date_range: bool = True

    @property
    def sql_type(self) -> str:
        return SQL_TYPE[self.kind]


CheckRule = Literal[
    "not_before",  # column >= other when both are given (a ticket answered before it was opened)
    "at_most",  # column <= other when both are given (paid more than due)
    "together",  # column and other are both given or both empty; the row is reported on the empty one
    "not_before_day",  # column >= day when given (a payment before 2000-01-01)
    "first_of_month",  # column is the first day of a month when given
    "unless_empty",  # column is given unless `other` equals `value` (a target's key, empty for company)
]


@dataclass(frozen=True)
class Check:
    """A rule between values of one row (CONTRACT §1, §2 "Dates"): ingest rejects a row breaking it,
    reported on `column`."""

    rule: CheckRule
    column: str
    other: str | None = None
    day: dt.date | None = None
    value: str | None = None


@dataclass(frozen=True)
class Duration:
    """A file column that gives a timestamp as a duration after another one (CONTRACT §2 (v2)
    "Durations": Zendesk's "First reply time in minutes", Freshdesk's "First response time (in hrs)").
    Mapped like a column under `name`; the load fills `target` = `start` + the duration."""

    name: str  # the mapping key, e.g. first_response_minutes
    target: str
    start: str
    seconds: int  # the length of one unit
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    # the columns identifying a row (a repeat within a file is a duplicate; --append upserts by them)
    key: tuple[str, ...]
    # words in a file or sheet name that say "this is the table", besides its own name
    name_hints: tuple[str, ...] = ()
    label_en: str = ""
    label_zh: str = ""
    checks: tuple[Check, ...] = ()
    # storage-only columns: in the database table after the canonical ones, never in a file, a mapping,
    # quality or the docs (deal_snapshots' valid_until, the compact format); `columns` stays canonical
    storage: tuple[Column, ...] = ()
    # (v2) durations a file may give instead of a timestamp column (tickets' first response)
    durations: tuple[Duration, ...] = ()
    column_index: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.column_index.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self.column_index[name]

    def duration(self, name: str) -> Duration | None:
        return next((d for d in self.durations if d.name == name), None)

    def mappable(self, name: str) -> bool:
        """A name a mapping may give a header for: a canonical column or a duration."""
        return name in self.column_index or self.duration(name) is not None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def stored_names(self) -> tuple[str, ...]:
        """Every column of the database table: the canonical ones, then the storage-only ones."""
        return self.column_names + tuple(c.name for c in self.storage)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def header_key(text: str) -> str:
    """Normalise a header or name: NFKC, lower case, letters and digits only (CJK kept)."""
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"[\W_]+", "", text)


def C(name: str, kind: Kind, required: bool = False, *synonyms: str, references: str | None = None,
      in_date_range: bool = True) -> Column:
    return Column(name, kind, required, tuple(synonyms), references, in_date_range)


ACCOUNT_ID = ("account id", "accountid", "customer id", "customer", "company id", "associated company",
              "associated company id", "company", "organization", "organization id", "organization - id", "org id",
              "deal - organization", "deal - organization id", "客户编号", "客户id", "客户ID", "客户代码",
              "客户", "公司编号", "客户编码")
REP_ID_PERSON = ("owner id", "owner", "deal owner", "opportunity owner", "account owner", "sales rep",
                 "salesperson", "user id", "deal - owner", "负责人", "销售负责人", "所有人", "客户负责人",
                 "负责人id", "销售", "销售代表", "业务员")

# An open deal's expected close (CONTRACT §1 v2); an export's "Close Date" of an open deal lands here too
# (ingest.parse: OPEN_DEAL_CLOSE). Planned dates never move the default period.
EXPECTED_CLOSE_AT = C("expected_close_at", "timestamp", False, "expected close date", "expected close",
                      "expected close at", "projected close date", "estimated close date", "预计成交日期",
                      "预计成交时间", "预计结单日期", "预计签约日期", "预计关闭日期", in_date_range=False)
FORECAST_CATEGORY = C("forecast_category", "forecast_category", False, "forecast category", "forecast",
                      "forecast category name", "预测类别", "预测分类", "预测类型")
DEAL_FORECAST = (
    EXPECTED_CLOSE_AT,
    C("probability", "probability", False, "probability", "deal probability", "win probability",
      "probability percent", "赢率", "赢单率", "成交概率", "赢单概率", "成交可能性"),
    FORECAST_CATEGORY,
)

TABLES: dict[str, Table] = {}


def _table(t: Table) -> None:
    TABLES[t.name] = t


_table(Table("accounts", (
    C("account_id", "id", True, *ACCOUNT_ID, references=None),
    C("account_name", "text", False, "account name", "company name", "name", "organization name",
      "organization - name", "客户名称", "公司名称", "客户全称", "名称"),
    C("region", "text", False, "region", "territory", "sales region", "billing state", "state",
      "区域", "地区", "大区", "所属区域", "销售区域"),
    C("segment", "text", False, "segment", "customer segment", "company size", "tier", "type",
      "account type", "客户类型", "客户规模", "细分", "客户级别", "客户分类", "规模"),
    C("industry", "text", False, "industry", "行业", "所属行业"),
    C("owner_rep_id", "person", False, *REP_ID_PERSON, "company owner", references="reps"),
    C("created_at", "timestamp", False, "created date", "create date", "created", "created at",
      "organization - organization created", "创建时间", "创建日期", "录入时间"),
), key=("account_id",), name_hints=("account", "company", "companies", "organization", "customer", "客户", "公司"),
    label_en="Accounts", label_zh="客户"))

_table(Table("reps", (
    C("rep_id", "id", True, "rep id", "user id", "employee id", "owner id", "id", "员工编号", "员工id",
      "工号", "销售编号", "人员编号"),
    C("rep_name", "text", False, "rep name", "name", "full name", "user name", "employee name", "owner name",
      "姓名", "员工姓名", "销售姓名", "名字"),
    C("region", "text", False, "region", "territory", "区域", "地区", "大区", "所属区域"),
    C("team", "text", False, "team", "department", "团队", "部门", "小组"),
    C("role", "role", False, "role", "user role", "type", "角色", "岗位", "身份", "类型"),
    C("manager_id", "person", False, "manager id", "manager", "reports to", "上级", "上级id", "直属上级",
      "经理", references="reps"),
    C("hire_date", "date", False, "hire date", "start date", "joined", "入职日期", "入职时间"),
), key=("rep_id",), name_hints=("rep", "user", "employee", "staff", "people", "team", "员工", "销售人员", "人员"),
    label_en="People", label_zh="人员"))

_table(Table("quotas", (
    C("rep_id", "person", True, "rep id", "user id", "owner id", "owner", "员工编号", "工号", "负责人",
      "销售", references="reps"),
    C("period_start", "date", True, "period start", "period", "quarter start", "start date", "month",
      "quarter", "期间", "周期开始", "开始日期", "季度", "月份"),
    C("quota_amount", "money", True, "quota amount", "quota", "target", "配额", "指标", "目标", "业绩目标",
      "目标金额", "指标金额"),
), key=("rep_id", "period_start"), name_hints=("quota", "配额", "指标"),
    label_en="Quotas", label_zh="业绩指标"))

_table(Table("deals", (
    C("deal_id", "id", True, "deal id", "opportunity id", "record id", "deal - id", "id", "opportunity number",
      "商机编号", "商机id", "机会编号", "商机编码", "销售机会编号"),
    C("stage", "stage", True, "stage", "deal stage", "opportunity stage", "deal - stage", "pipeline stage",
      "销售阶段", "阶段", "商机阶段"),
    C("account_id", "id", False, *ACCOUNT_ID, "account", "account name", "deal - organization id",
      references="accounts"),
    C("owner_rep_id", "person", False, *REP_ID_PERSON, "deal - owner id", "deal - user", references="reps"),
    C("amount", "money", False, "amount", "deal amount", "value", "deal value", "deal - value",
      "opportunity amount", "total contract value", "金额", "商机金额", "预计金额", "成交金额", "合同金额",
      "销售金额"),
    C("created_at", "timestamp", False, "created date", "create date", "created", "created at",
      "deal - deal created", "deal created", "创建时间", "创建日期", "商机创建时间"),
    C("closed_at", "timestamp", False, "close date", "closed date", "closed at", "won time", "deal - won time",
      "deal - close date", "deal - closed on", "closed on", "成交日期", "结单日期", "关闭日期", "赢单日期",
      "成交时间", "结束日期"),
    C("status", "status", False, "status", "deal - status", "won/lost", "状态", "商机状态", "赢输"),
    C("referrer_id", "person", False, "referrer id", "referrer", "referred by", "referral", "推荐人",
      "推荐人id", "介绍人", "转介绍人", references="reps"),
    C("source", "text", False, "source", "lead source", "deal source", "original source", "deal - source",
      "来源", "商机来源", "线索来源"),
    *DEAL_FORECAST,
), key=("deal_id",), name_hints=("deal", "opportunit", "pipeline", "商机", "机会"),
    label_en="Deals", label_zh="商机"))

_table(Table("deal_stage_history", (
    C("deal_id", "id", True, "deal id", "opportunity id", "record id", "商机编号", "商机id",
      references="deals"),
    C("stage", "stage", True, "stage", "to stage", "new stage", "new value", "销售阶段", "阶段", "进入阶段"),
    C("entered_at", "timestamp", True, "entered at", "entered", "changed at", "change date", "edit date",
      "date", "last modified", "进入时间", "变更时间", "时间", "日期"),
), key=("deal_id", "stage", "entered_at"), name_hints=("stage_history", "stagehistory", "opportunity_history", "opportunityhistory",
                                          "history", "阶段", "stage"),
    label_en="Stage history", label_zh="阶段历史"))

_table(Table("deal_splits", (
    C("deal_id", "id", True, "deal id", "opportunity id", "商机编号", references="deals"),
    C("rep_id", "person", True, "rep id", "user id", "owner id", "split owner", "员工编号", "负责人", "销售",
      references="reps"),
    C("share", "share", True, "share", "split", "split percentage", "percent", "percentage", "比例",
      "分成比例", "业绩比例"),
), key=("deal_id", "rep_id"), name_hints=("split", "分成", "拆分", "业绩分配"),
    label_en="Deal splits", label_zh="业绩分成"))

_table(Table("contracts", (
    # billing tools: Stripe's subscription export ("Customer ID", "Start Date (UTC)", "Ended At (UTC)"),
    # Chargebee's ("subscriptions.id", "subscriptions.customer_id", "subscriptions.mrr")
    C("contract_id", "id", True, "contract id", "subscription id", "contract number", "subscriptions.id",
      "合同编号", "合同id", "id"),
    C("account_id", "id", True, *ACCOUNT_ID, "subscriptions.customer_id", "customer_id", references="accounts"),
    C("start_date", "date", True, "start date", "contract start date", "start", "start date (utc)", "started at",
      "subscriptions.started_at", "开始日期", "生效日期", "合同开始日期"),
    C("end_date", "date", False, "end date", "contract end date", "end", "ended at (utc)", "ended at",
      "canceled at (utc)", "cancelled at", "canceled at", "subscriptions.cancelled_at", "结束日期", "到期日期",
      "合同结束日期"),
    C("mrr", "money", True, "mrr", "monthly recurring revenue", "monthly amount", "mrr amount", "mrr_amount",
      "monthly recurring revenue (mrr)", "subscriptions.mrr", "月费", "月度金额", "月经常性收入"),
), key=("contract_id",), name_hints=("contract", "subscription", "合同", "订阅"),
    label_en="Contracts", label_zh="合同", checks=(Check("not_before", "end_date", "start_date"),)))

_table(Table("tickets", (
    C("ticket_id", "id", True, "ticket id", "case id", "case number", "id", "工单编号", "工单id", "工单号"),
    C("account_id", "id", True, *ACCOUNT_ID, "account name", "organization name", "company name",
      references="accounts"),
    # helpdesks: Zendesk "Created at", Freshdesk "Created time", Intercom "Created at"
    C("opened_at", "timestamp", True, "opened at", "opened", "created date", "create date", "date/time opened",
      "created at", "created time", "date created", "creation date", "创建时间", "提交时间", "开单时间"),
    C("first_response_at", "timestamp", False, "first response at", "first response", "first response time",
      "首次响应时间", "响应时间"),
    C("resolved_at", "timestamp", False, "resolved at", "closed date", "date/time closed", "close date",
      "solved at", "resolved time", "closed time", "closed at", "解决时间", "关闭时间"),
    C("channel", "channel", False, "channel", "case origin", "origin", "source", "via", "ticket source", "渠道",
      "来源渠道", "服务渠道"),
    C("priority", "text", False, "priority", "优先级"),
    C("assignee_id", "person", False, "assignee id", "assignee", "case owner", "owner", "agent", "assignee name",
      "处理人", "负责人", "客服", references="reps"),
), key=("ticket_id",), name_hints=("ticket", "case", "工单", "服务"),
    label_en="Tickets", label_zh="工单",
    # calendar time only: a duration "within business hours" does not give the moment of the answer
    durations=(Duration("first_response_minutes", "first_response_at", "opened_at", 60,
                        ("first reply time in minutes", "first response time in minutes",
                         "first response time (in minutes)", "first response minutes", "首次响应时长(分钟)",
                         "首次响应时长（分钟）")),
               Duration("first_response_hours", "first_response_at", "opened_at", 3600,
                        ("first response time (in hrs)", "first response time (in hours)",
                         "first response time in hours", "first response hours", "首次响应时长(小时)",
                         "首次响应时长（小时）"))),
    checks=(Check("not_before", "first_response_at", "opened_at"), Check("not_before", "resolved_at", "opened_at"))))

_table(Table("surveys", (
    C("response_id", "id", True, "response id", "survey id", "id", "回访编号", "问卷编号", "编号"),
    C("account_id", "id", True, *ACCOUNT_ID, references="accounts"),
    C("submitted_at", "timestamp", True, "submitted at", "submitted", "submission date", "date", "response date",
      "提交时间", "回访时间", "回访日期", "日期"),
    C("kind", "survey_kind", True, "kind", "survey type", "type", "survey", "metric", "类型", "问卷类型",
      "调查类型"),
    C("score", "score", True, "score", "rating", "value", "satisfaction score", "satisfaction rating", "csat score",
      "nps score", "评分", "分数", "得分"),
    C("rep_id", "person", False, "rep id", "rep", "owner", "负责人", "销售", references="reps"),
    C("ticket_id", "id", False, "ticket id", "case id", "工单编号", references="tickets"),
    C("comment", "text", False, "comment", "comments", "feedback", "verbatim", "评价", "备注", "意见", "反馈"),
), key=("response_id",), name_hints=("survey", "response", "csat", "nps", "feedback", "回访", "问卷", "满意度"),
    label_en="Surveys", label_zh="满意度回访"))

_table(Table("activities", (
    C("activity_id", "id", True, "activity id", "task id", "engagement id", "id", "活动编号", "跟进编号",
      "跟进记录编号"),
    C("account_id", "id", True, *ACCOUNT_ID, references="accounts"),
    C("occurred_at", "timestamp", True, "occurred at", "date", "activity date", "due date", "timestamp",
      "跟进时间", "活动时间", "拜访时间", "日期"),
    C("kind", "activity_kind", False, "kind", "type", "activity type", "task type", "类型", "跟进方式",
      "活动类型"),
    C("channel", "activity_channel", False, "channel", "渠道", "线上线下"),
    C("rep_id", "person", False, "rep id", "owner", "assigned to", "负责人", "跟进人", "销售",
      references="reps"),
), key=("activity_id",), name_hints=("activit", "task", "engagement", "跟进", "活动", "拜访"),
    label_en="Activities", label_zh="跟进活动"))

# (v2) One installment of a payment plan (回款计划: due_date, amount_due) and what was received against it
# (回款记录: paid_at, amount_paid); a receipt without a plan has neither due column.
_table(Table("payments", (
    C("payment_id", "id", True, "payment id", "payment number", "payment no", "installment id", "receipt id",
      "receipt number", "回款编号", "回款id", "回款单号", "回款计划编号", "回款记录编号", "收款编号", "收款单号"),
    C("account_id", "id", True, *ACCOUNT_ID, references="accounts"),
    C("deal_id", "id", False, "deal id", "opportunity id", "opportunity", "deal", "商机编号", "商机id", "商机",
      references="deals"),
    C("contract_id", "id", False, "contract id", "contract number", "contract", "subscription id", "合同编号",
      "合同id", "合同", references="contracts"),
    C("due_date", "date", False, "due date", "payment due date", "planned date", "planned payment date",
      "installment date", "计划回款日期", "计划回款时间", "应回款日期", "应收日期", "计划日期", "到期日", in_date_range=False),
    C("amount_due", "money", False, "amount due", "due amount", "planned amount", "installment amount",
      "计划回款金额", "应回款金额", "应收金额", "计划金额"),
    C("paid_at", "timestamp", False, "paid at", "paid date", "date paid", "payment date", "received date",
      "receipt date", "实际回款日期", "实际回款时间", "回款日期", "回款时间", "到账日期", "收款日期", in_date_range=False),
    C("amount_paid", "money", False, "amount paid", "paid amount", "amount received", "received amount",
      "实际回款金额", "回款金额", "已回款金额", "到账金额", "收款金额"),
    C("rep_id", "person", False, "rep id", *REP_ID_PERSON, references="reps"),
), key=("payment_id",), name_hints=("payment", "installment", "receipt", "回款", "回款计划", "回款记录", "收款"),
    label_en="Payments", label_zh="回款",
    checks=(Check("together", "amount_due", "due_date"), Check("together", "due_date", "amount_due"),
            Check("together", "amount_paid", "paid_at"), Check("together", "paid_at", "amount_paid"),
            Check("at_most", "amount_paid", "amount_due"),
            Check("not_before_day", "paid_at", day=dt.date(2000, 1, 1)))))

# (v2) 业绩目标: a booked or collected amount a company, region, team or rep should reach in a period.
_table(Table("targets", (
    C("level", "target_level", True, "level", "target level", "目标层级", "层级", "级别", "维度"),
    C("key", "id", False, "key", "target key", "target for", "对象", "目标对象", "键"),
    C("period", "target_period", True, "period", "period type", "target period", "周期", "周期类型", "期间类型"),
    C("period_start", "date", True, "period start", "start date", "start", "周期开始", "开始日期", "起始日期",
      in_date_range=False),
    C("basis", "target_basis", True, "basis", "target basis", "target type", "口径", "目标口径", "目标类型"),
    C("amount", "money", True, "amount", "target", "target amount", "goal", "目标", "目标金额", "金额"),
), key=("level", "key", "period", "period_start", "basis"),
    name_hints=("target", "goal", "业绩目标", "目标", "销售目标"), label_en="Targets", label_zh="业绩目标",
    checks=(Check("first_of_month", "period_start"), Check("unless_empty", "key", "level", value="company"))))

# (v2) The state of every deal on a past day (ingest writes it on every load of deals; exported
# snapshots load too). Stored compactly (b2bmetrics.ingest.snapshots): a row holds the state of its deal
# on every snapshot day d with snapshot_date <= d < valid_until (NULL = through the latest snapshot day);
# the snapshot days themselves are the rows of `snapshot_days` (SNAPSHOT_DAYS_DDL).
_table(Table("deal_snapshots", (
    C("snapshot_date", "date", True, "snapshot date", "snapshot", "as of", "as of date", "snapshot day", "快照日期",
      "快照时间", in_date_range=False),
    C("deal_id", "id", True, "deal id", "opportunity id", "record id", "商机编号", "商机id", references="deals"),
    C("stage", "stage", True, "stage", "deal stage", "opportunity stage", "销售阶段", "阶段", "商机阶段"),
    C("status", "status", False, "status", "deal status", "状态", "商机状态"),
    C("amount", "money", False, "amount", "deal amount", "value", "deal value", "金额", "商机金额"),
    EXPECTED_CLOSE_AT,
    C("owner_rep_id", "person", False, *REP_ID_PERSON, references="reps"),
    FORECAST_CATEGORY,
), key=("snapshot_date", "deal_id"), name_hints=("snapshots", "商机快照"),
    label_en="Deal snapshots", label_zh="商机快照",
    storage=(Column("valid_until", "date", in_date_range=False),)))

# Load order within one ingest: people first (names resolve against reps), parents before children.
# CONTRACT §5 (v2) "Period": the columns that record something that happened. The latest of them is
# the data's "now" (`filters.data_as_of`); planned and future dates (contract ends, expected closes,
# due dates, quota periods, hire dates) never move it.
EVENT_DATES: tuple[tuple[str, str], ...] = (
    ("deals", "created_at"), ("deals", "closed_at"), ("deal_stage_history", "entered_at"),
    ("contracts", "start_date"), ("tickets", "opened_at"), ("surveys", "submitted_at"),
    ("activities", "occurred_at"), ("payments", "paid_at"),
)

LOAD_ORDER: tuple[str, ...] = ("reps", "accounts", "quotas", "targets", "deals", "deal_stage_history",
                               "deal_splits", "deal_snapshots", "contracts", "payments", "tickets", "surveys",
                               "activities")

# Audit tables the store keeps beside the canonical ones.
LOADS_DDL = """
CREATE TABLE IF NOT EXISTS loads (
    load_id INTEGER PRIMARY KEY, table_name VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL, rows BIGINT NOT NULL, rejected BIGINT NOT NULL, mode VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL, mapping VARCHAR, unmapped VARCHAR
)"""
# (v2) the file's columns that mapped to nothing, a JSON list; added to a loads table from before v2
LOADS_MIGRATION = "ALTER TABLE loads ADD COLUMN IF NOT EXISTS unmapped VARCHAR"
LOAD_REJECTS_DDL = """
CREATE TABLE IF NOT EXISTS load_rejects (
    load_id INTEGER NOT NULL, table_name VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    "row" BIGINT, "column" VARCHAR, "value" VARCHAR, reason VARCHAR NOT NULL
)"""

# (v2) Every snapshot day of deal_snapshots' compact rows, one row each (a day may have no deal).
SNAPSHOT_DAYS_DDL = "CREATE TABLE IF NOT EXISTS snapshot_days (snapshot_date DATE NOT NULL)"
# A database written before the compact format (deal_snapshots without valid_until: one full row per day
# and deal) gets the column at its next write: each old row then covers its own day only, up to the next
# day that has rows, and those days become the snapshot days (run only when the column was missing).
SNAPSHOTS_MIGRATION: tuple[str, ...] = (
    "ALTER TABLE deal_snapshots ADD COLUMN valid_until DATE",
    "INSERT INTO snapshot_days SELECT DISTINCT snapshot_date FROM deal_snapshots "
    "WHERE snapshot_date NOT IN (SELECT snapshot_date FROM snapshot_days)",
    "UPDATE deal_snapshots SET valid_until = n.next_day FROM (SELECT snapshot_date AS day, "
    "lead(snapshot_date) OVER (ORDER BY snapshot_date) AS next_day FROM snapshot_days) AS n "
    "WHERE deal_snapshots.snapshot_date = n.day",
)

SURVEY_SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

# Value aliases (keys compared after header_key). Values outside these are handled per kind.
STATUS_ALIASES = {"open": "open", "won": "won", "lost": "lost", "closedwon": "won", "closedlost": "lost",
                  "进行中": "open", "跟进中": "open", "赢单": "won", "输单": "lost", "成交": "won", "丢单": "lost",
                  "赢": "won", "输": "lost", "已成交": "won", "已输单": "lost"}
ROLE_ALIASES = {"sales": "sales", "employee": "employee", "partner": "partner", "销售": "sales",
                "员工": "employee", "职员": "employee", "伙伴": "partner", "合作伙伴": "partner",
                "渠道伙伴": "partner", "salesrep": "sales", "staff": "employee"}
SURVEY_KIND_ALIASES = {"csat": "csat", "nps": "nps", "ces": "ces", "满意度": "csat", "净推荐值": "nps",
                       "费力度": "ces", "客户费力度": "ces"}
CHANNEL_ALIASES = {"phone": "phone", "call": "phone", "telephone": "phone", "电话": "phone",
                   "online": "online", "web": "online", "email": "online", "chat": "online", "在线": "online",
                   "线上": "online", "网页": "online", "邮件": "online", "offline": "offline", "onsite": "offline",
                   "线下": "offline", "现场": "offline", "上门": "offline", "wechat": "wechat", "微信": "wechat",
                   "企业微信": "wechat", "weixin": "wechat"}
ACTIVITY_KIND_ALIASES = {"visit": "visit", "call": "call", "email": "email", "message": "message",
                         "training": "training", "meeting": "meeting", "拜访": "visit", "电话": "call",
                         "邮件": "email", "消息": "message", "微信": "message", "培训": "training",
                         "会议": "meeting", "phonecall": "call"}
ACTIVITY_CHANNEL_ALIASES = {"online": "online", "offline": "offline", "线上": "online", "线下": "offline"}

# "" = read as empty: a closed deal has no forecast category (Salesforce exports "Closed")
FORECAST_CATEGORY_ALIASES = {"pipeline": "pipeline", "bestcase": "best_case", "commit": "commit",
                             "omitted": "omitted", "omit": "omitted", "closed": "", "closedwon": "",
                             "closedlost": "", "管道": "pipeline", "渠道": "pipeline", "最佳情况": "best_case",
                             "乐观": "best_case", "承诺": "commit", "确定": "commit", "排除": "omitted",
                             "忽略": "omitted", "已关闭": "", "关闭": "", "赢单": "", "输单": ""}
TARGET_LEVEL_ALIASES = {"company": "company", "region": "region", "team": "team", "rep": "rep",
                        "person": "rep", "individual": "rep", "salesrep": "rep", "公司": "company",
                        "全公司": "company", "区域": "region", "大区": "region", "地区": "region", "团队": "team",
                        "小组": "team", "个人": "rep", "销售": "rep", "员工": "rep"}
TARGET_PERIOD_ALIASES = {"month": "month", "quarter": "quarter", "year": "year", "monthly": "month",
                         "quarterly": "quarter", "yearly": "year", "annual": "year", "fiscalyear": "year",
                         "月": "month", "月度": "month", "季": "quarter", "季度": "quarter", "年": "year",
                         "年度": "year"}
TARGET_BASIS_ALIASES = {"booked": "booked", "collected": "collected", "booking": "booked", "bookings": "booked",
                        "collection": "collected", "cash": "collected", "签约": "booked", "成交": "booked",
                        "订单": "booked", "回款": "collected", "收款": "collected", "到账": "collected"}

ENUM_ALIASES: dict[str, dict[str, str]] = {
    "status": STATUS_ALIASES, "role": ROLE_ALIASES, "survey_kind": SURVEY_KIND_ALIASES,
    "channel": CHANNEL_ALIASES, "activity_kind": ACTIVITY_KIND_ALIASES,
    "activity_channel": ACTIVITY_CHANNEL_ALIASES, "forecast_category": FORECAST_CATEGORY_ALIASES,
    "target_level": TARGET_LEVEL_ALIASES, "target_period": TARGET_PERIOD_ALIASES,
    "target_basis": TARGET_BASIS_ALIASES,
}
# Kinds whose unknown values are refused rather than kept (the metrics depend on them).
STRICT_ENUMS = {"status", "role", "survey_kind", "forecast_category", "target_level", "target_period",
                "target_basis"}


def create_table_sql(table: Table) -> str:
    cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in (*table.columns, *table.storage))
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({cols})'
