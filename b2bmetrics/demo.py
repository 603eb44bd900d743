"""The demo dataset: the first three years of a Chinese B2B SaaS company, generated deterministically.

`generate` builds every canonical table (CONTRACT §1) as a `pyarrow.Table` whose columns and
types are exactly those of `schema.TABLES`; `write_demo` replaces the tables of a `Store` with
them in one atomic write and records one `loads` row per table.

The story the data tells, so that every dashboard page has something to show:

* People: the company is founded two months before its first account. Sales reps work in five
  regions (a director per region, teams of seven under a team lead) and keep being hired as the
  company grows; support, customer-success, channel, marketing and back-office employees; channel
  partners (their hire date is the partnership's start). Employee numbers (`R…`) follow hire dates.
* Accounts arrive faster over time, with a dip at the Spring Festival and the National Day week.
  Each has a latent health that drives renewals, ticket load, survey scores and how often the
  team talks to it. New accounts go mostly to reps whose books are still filling up.
* Deals walk the default pipeline with a drop-off at every stage; some skip a stage, a few move
  back (negotiation -> proposal -> negotiation, proposal -> needs_analysis -> proposal), recent
  ones are still open, and a few stall open for good. Referrals come from employees, partners and
  other reps (全民经销), now and then from the owner (no referral commission). About 5 % of won
  deals are split between two reps. Quotas follow each rep's book, the company trend and ramp-up.
* Every won deal opens a contract at its close date (MRR = amount / 12): a monthly subscription,
  or one- and two-year terms renewed flat, up (expansion) or down (contraction), or not at all
  (churn). A few customers cancel within 90 days (clawbacks).
* Customers raise tickets, answer CSAT / NPS / CES surveys (CES: 7 = very easy), and hear less
  from their team in the five months before they churn.

Business events fall in working hours on weekdays; customers' tickets and surveys also come in
the evening. Every date lies between the first hire and `today` (default 2026-10-31, the data
ends at 18:00): a running contract has no end date yet, so no column points into the future.
Nothing depends on the wall clock, and the same seed always gives the same tables. All work is
vectorised with numpy and pyarrow: 200,000 accounts (a million deals, 3.5 million stage changes,
5 million activities) take under ten seconds and about 1.3 GB.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from b2bmetrics.config import DEFAULT_STAGES
from b2bmetrics.errors import B2BError
from b2bmetrics.schema import SQL_TYPE, TABLES
from b2bmetrics.store import Store

Progress = Callable[[str, float], None]
Array = np.ndarray

DEFAULT_TODAY = dt.date(2026, 10, 31)
HISTORY_DAYS = 3 * 365 + 1  # the data covers three years up to `today`
STAGES: tuple[str, ...] = DEFAULT_STAGES
LOST = "lost"
STAGE_NAMES: tuple[str, ...] = (*STAGES, LOST)  # stage codes: index into this tuple
WON_CODE, LOST_CODE = len(STAGES) - 1, len(STAGES)

# ---- reference lists ----------------------------------------------------------------------------
REGIONS = ("华东", "华南", "华北", "华中", "西部")
REGION_WEIGHTS = (0.32, 0.20, 0.20, 0.12, 0.16)
CITIES: tuple[tuple[str, ...], ...] = (
    ("上海", "杭州", "南京", "苏州", "宁波", "无锡", "合肥", "济南", "青岛", "福州", "厦门"),
    ("广州", "深圳", "东莞", "佛山", "珠海", "南宁", "海口"),
    ("北京", "天津", "石家庄", "太原", "沈阳", "大连", "呼和浩特"),
    ("武汉", "长沙", "郑州", "南昌", "宜昌", "洛阳"),
    ("成都", "重庆", "西安", "昆明", "贵阳", "兰州", "乌鲁木齐"),
)
SEGMENTS = ("大型企业", "中型企业", "小型企业")
SEGMENT_WEIGHTS = (0.12, 0.33, 0.55)
INDUSTRIES = ("软件", "制造", "零售", "物流", "金融", "医疗", "教育", "能源", "建筑")
INDUSTRY_WEIGHTS = (0.20, 0.22, 0.13, 0.10, 0.08, 0.09, 0.07, 0.05, 0.06)
INDUSTRY_WORDS: tuple[tuple[str, ...], ...] = (
    ("软件", "信息技术", "网络科技", "数据科技", "智能科技"),
    ("机械制造", "智能装备", "精密制造", "电子", "新材料"),
    ("商贸", "零售连锁", "电子商务", "百货", "食品"),
    ("物流", "供应链管理", "国际货运", "仓储服务", "速运"),
    ("融资租赁", "保险经纪", "投资管理", "金融信息服务", "资产管理"),
    ("医疗器械", "医药", "健康科技", "生物科技", "医疗服务"),
    ("教育科技", "职业培训", "文化传播", "教育咨询"),
    ("新能源", "能源科技", "电力工程", "光伏科技"),
    ("建筑工程", "建设集团", "装饰工程", "工程咨询"),
)
BRAND_CHARS = tuple(dict.fromkeys(
    "华信达创新科博恒瑞泰联智云通远鼎盛捷安宇航凯润丰德嘉汇海天启明源星辰腾越峰晟弘宏耀光辉鑫锐思维睿卓立诚和合"
    "正元中美佳康宁益众兴隆祥福鸿翔奥易迅蓝青金银东方亿万利尚优品digital"[:-7]))
SURNAMES = tuple(dict.fromkeys(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"))
GIVEN_CHARS = tuple(dict.fromkeys(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉萍红玲芬燕彬鑫斌宇浩凯健俊帆帅旭宁龙林欢阳建国志晨琳雪婷颖倩琪"
    "瑶佳欣怡梦雨萌嘉睿博文轩子涵思宏辉亮成峰鹏飞昊天晓东海波春秀兰凤洁慧巧美莉丹蓉蕾薇菲瑞晶岚坤哲"))
DEPARTMENTS = ("技术支持部", "客户成功部", "渠道部", "市场部", "产品研发部", "财务部", "人力资源部")
DEPARTMENT_WEIGHTS = (0.34, 0.22, 0.08, 0.12, 0.14, 0.05, 0.05)
SUPPORT_DEPTS, SUCCESS_DEPT, CHANNEL_DEPT = (0, 1), 1, 2
PARTNER_WORDS = ("信息技术", "软件服务", "数字科技", "企业咨询", "网络科技")
SOURCES = ("官网", "展会", "电话营销", "搜索推广", "转介绍", "合作伙伴", "老客户")
SRC_WEB, SRC_EVENT, SRC_PHONE, SRC_SEARCH, SRC_REFERRAL, SRC_PARTNER, SRC_CUSTOMER = range(7)
SOURCE_WEIGHTS_NEW = (0.30, 0.16, 0.22, 0.17, 0.09, 0.06, 0.0)
# how each source converts at every stage, relative to the base rates
SOURCE_LIFT = (0.97, 0.95, 0.90, 0.93, 1.10, 1.06, 1.08)
TICKET_CHANNELS = ("phone", "online", "wechat", "offline")
TICKET_CHANNEL_WEIGHTS = (0.28, 0.30, 0.32, 0.10)
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_WEIGHTS = (0.20, 0.55, 0.20, 0.05)
ACTIVITY_KINDS = ("visit", "call", "email", "message", "training", "meeting")
DEAL_ACTIVITY_WEIGHTS = (0.14, 0.32, 0.18, 0.20, 0.02, 0.14)
SUCCESS_ACTIVITY_WEIGHTS = (0.10, 0.25, 0.05, 0.20, 0.20, 0.20)
OFFLINE_SHARE = (1.0, 0.0, 0.0, 0.0, 0.35, 0.45)  # per activity kind
COMMENTS: tuple[tuple[str, ...], ...] = (
    ("响应太慢，等了两天才有人回复", "系统经常卡顿，影响使用", "问题反复出现，一直没有彻底解决", "续费价格涨得太多",
     "销售承诺的功能没有兑现", "对接人频繁更换，沟通成本高", "报表导出经常出错"),
    ("功能基本满足需求，希望移动端更完善", "价格略高，希望有更多优惠", "培训资料可以再细一些", "还行，部分功能有待优化",
     "希望能和企业微信打通"),
    ("服务响应很快，问题当天就解决了", "产品好用，销售跟进很及时", "实施顾问很专业，上线很顺利",
     "报表功能很实用，管理层很满意", "客服态度好，耐心解答", "整体满意，会推荐给同行", "数据看板帮我们省了很多时间"),
)

# ---- pipeline behaviour -------------------------------------------------------------------------
# chance of moving from stage i to stage i+1 (lead -> qualified ... negotiation -> won)
CONVERSION = (0.64, 0.74, 0.78, 0.72, 0.66, 0.70)
# the history of a deal in fixed slots; a deal uses a subset of them, in this order
SLOT_STAGE = np.array([0, 1, 2, 3, 4, 3, 4, 5, 4, 5, -1])  # -1: the final slot, won or lost
SLOT_OF_STAGE = (0, 1, 2, 3, 4, 7)  # where stages lead..negotiation sit
RESCOPE_SLOTS, BACK_SLOTS, FINAL_SLOT = (5, 6), (8, 9), 10
# median calendar days spent in each slot before the next entry, for a mid-size deal
SLOT_DAYS = np.array([4.0, 7.0, 10.0, 12.0, 14.0, 8.0, 7.0, 15.0, 6.0, 8.0])
SEGMENT_PACE = np.array([1.6, 1.0, 0.6])  # large deals take longer
SKIP_CHANCE = np.array([  # per segment (rows), per stage lead..negotiation (columns)
    [0.0, 0.02, 0.02, 0.04, 0.01, 0.02],
    [0.0, 0.03, 0.08, 0.06, 0.02, 0.04],
    [0.0, 0.04, 0.22, 0.08, 0.03, 0.08],
])
RESCOPE_CHANCE, BACK_CHANCE, STALL_CHANCE = 0.03, 0.06, 0.03
AMOUNT_MEDIAN = np.array([480_000.0, 120_000.0, 28_000.0])
AMOUNT_SIGMA = np.array([0.70, 0.60, 0.55])
DEALS_PER_ACCOUNT = 5.0
FOUNDED_BEFORE_DAYS = 60  # the first people join two months before the first account
REFERRAL_SHARE = 0.08
SPLIT_SHARE = 0.05

WORK_HOURS_PER_WEEK = 45.0  # 09:00-18:00, Monday to Friday
WORK_PER_DAY = WORK_HOURS_PER_WEEK / 7.0  # working hours per calendar day, on average
MONDAY = 4.0  # 1970-01-05 was a Monday: days since the epoch
# business by calendar month: the Spring Festival in February, the National Day week in October,
# and the year-end push in December
SEASON = np.array([0.90, 0.55, 1.05, 1.0, 0.95, 1.0, 0.95, 0.90, 1.05, 0.80, 1.05, 1.10])


# ---- public API ---------------------------------------------------------------------------------
def generate(seed: int = 7, accounts: int = 2000, today: dt.date | None = None) -> dict[str, pa.Table]:
    """Every canonical table of a realistic demo dataset, keyed by table name.

    Each table has exactly the columns of `schema.TABLES[name]`, typed as the database types them.
    The same `seed`, `accounts` and `today` always give identical tables. Refuses `accounts < 1`.
    """
    return _generate(seed, accounts, today or DEFAULT_TODAY, None)


def write_demo(store: Store, seed: int = 7, accounts: int = 2000,
               progress: Progress | None = None) -> dict[str, int]:
    """Replace every canonical table of `store` with the demo dataset, in one atomic write.

    Records one `loads` row per table (file name `demo:seed=N,accounts=M`, mode `replace`) and
    returns the row count of each table. `progress(label, fraction)` is called as the work advances.
    """
    report: Progress = progress or (lambda _label, _fraction: None)
    tables = _generate(seed, accounts, DEFAULT_TODAY, report)
    file_name = f"demo:seed={seed},accounts={accounts}"
    counts: dict[str, int] = {}
    with store.write() as con:
        row = con.execute("SELECT coalesce(max(load_id), 0) FROM loads").fetchone()
        load_id = int(row[0]) if row else 0
        loaded_at = dt.datetime.now().replace(microsecond=0)
        for i, (name, table) in enumerate(tables.items()):
            report(f"Writing {name} … / 写入{TABLES[name].label_zh} …", 0.75 + 0.25 * i / len(tables))
            columns = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
            view = f"_demo_{name}"
            con.register(view, table)
            try:
                con.execute(f'DELETE FROM "{name}"')
                con.execute(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{view}"')
            finally:
                con.unregister(view)
            load_id += 1
            digest = hashlib.sha256(f"{file_name},table={name}".encode()).hexdigest()
            con.execute("INSERT INTO loads (load_id, table_name, file_name, sha256, rows, rejected, mode, "
                        "loaded_at, mapping) VALUES (?, ?, ?, ?, ?, 0, 'replace', ?, NULL)",
                        [load_id, name, file_name, digest, table.num_rows, loaded_at])
            counts[name] = table.num_rows
        report("Saving and updating the derived tables … / 保存并更新汇总表 …", 0.98)
    report("Demo dataset written / 演示数据已写入", 1.0)
    return counts


# ---- the generator ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Clock:
    """The span the data covers, as float days since 1970-01-01 (local, naive time)."""

    start: float  # 00:00 on the first day
    now: float  # 18:00 on `today`: the moment of the export

    @property
    def today(self) -> int:
        return int(np.floor(self.now))


def _generate(seed: int, accounts: int, today: dt.date, report: Progress | None) -> dict[str, pa.Table]:
    if isinstance(accounts, bool) or not isinstance(accounts, int | np.integer) or accounts < 1:
        raise B2BError(f"the demo needs at least one account, got accounts = {accounts!r}",
                       fix="pass a positive whole number, e.g. --accounts 2000")
    accounts = int(accounts)
    say: Progress = report or (lambda _label, _fraction: None)
    seed_key = int(seed) % 2**63
    rngs = {part: np.random.default_rng([seed_key, i]) for i, part in enumerate(
        ("people", "accounts", "deals", "splits", "contracts", "tickets", "surveys", "activities", "quotas"))}
    today_day = float((np.datetime64(today, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
    clock = _Clock(start=today_day - HISTORY_DAYS + 1, now=today_day + 0.75)

    say("Generating people … / 生成人员 …", 0.0)
    people = _people(rngs["people"], accounts, clock)
    say("Generating accounts … / 生成客户 …", 0.05)
    accts = _accounts(rngs["accounts"], accounts, clock, people)
    say("Generating deals … / 生成商机 …", 0.10)
    deals = _deals(rngs["deals"], clock, people, accts)
    splits = _splits(rngs["splits"], people, deals)
    say("Generating contracts … / 生成合同 …", 0.35)
    contracts = _contracts(rngs["contracts"], clock, accts, deals)
    window = _customer_windows(clock, accts, contracts)
    say("Generating tickets … / 生成工单 …", 0.42)
    tickets = _tickets(rngs["tickets"], clock, people, accts, window)
    say("Generating surveys … / 生成回访 …", 0.50)
    surveys = _surveys(rngs["surveys"], clock, people, accts, window, tickets)
    say("Generating activities … / 生成跟进记录 …", 0.55)
    activities = _activities(rngs["activities"], clock, people, accts, deals, window)
    quotas = _quotas(rngs["quotas"], clock, people, deals)
    say("Assembling tables … / 整理数据表 …", 0.70)

    out = {
        "accounts": accts.table(people), "reps": people.table(), "quotas": quotas,
        "deals": deals.table(people, accts), "deal_stage_history": deals.history_table(),
        "deal_splits": splits, "contracts": contracts.table(accts), "tickets": tickets.arrow,
        "surveys": surveys, "activities": activities,
    }
    # (v2) columns and tables the demo does not generate yet stay empty (null)
    for col in ("expected_close_at", "probability", "forecast_category"):
        out["deals"] = out["deals"].append_column(col, pa.nulls(out["deals"].num_rows))
    for name in ("payments", "targets", "deal_snapshots"):
        out[name] = pa.table({c: pa.nulls(0) for c in TABLES[name].column_names})
    return {name: _conform(name, out[name]) for name in TABLES}


# ---- time on the working-hours axis -------------------------------------------------------------
# Business events (deals, stage changes, visits) happen 09:00-18:00 on weekdays. Durations are
# drawn in working hours and mapped to calendar time by a strictly increasing function, so order
# is kept and nothing lands on a Sunday night.
def _to_work(days: Array) -> Array:
    """Calendar days since the epoch -> working hours since MONDAY (off hours map to the next start)."""
    c = np.asarray(days, dtype=np.float64) - MONDAY
    week = np.floor(c / 7.0)
    rest = c - 7.0 * week
    dow = np.floor(rest)
    hour = (rest - dow) * 24.0
    within = np.where(dow < 5, dow * 9.0 + np.clip(hour - 9.0, 0.0, 9.0), WORK_HOURS_PER_WEEK)
    return week * WORK_HOURS_PER_WEEK + within


def _from_work(hours: Array) -> Array:
    """Working hours since MONDAY -> calendar days since the epoch."""
    w = np.asarray(hours, dtype=np.float64)
    week = np.floor(w / WORK_HOURS_PER_WEEK)
    rest = np.clip(w - WORK_HOURS_PER_WEEK * week, 0.0, WORK_HOURS_PER_WEEK - 1e-9)
    day = np.floor(rest / 9.0)
    return MONDAY + week * 7.0 + day + (9.0 + rest - 9.0 * day) / 24.0


def _work_uniform(rng: np.random.Generator, lo_days: Array, hi_days: Array, share: float = 1.0) -> Array:
    """Moments uniform between two calendar times: `share` of them in working hours, the rest at any hour."""
    lo, hi = np.asarray(lo_days, np.float64), np.asarray(hi_days, np.float64)
    u = rng.random(lo.shape)
    work = _from_work(_to_work(lo) + u * (_to_work(hi) - _to_work(lo)))
    anytime = lo + u * (hi - lo)
    day = np.floor(anytime)
    anytime = day + 7.0 / 24.0 + (anytime - day) * (16.0 / 24.0)  # people are awake 07:00-23:00
    out = np.where(rng.random(lo.shape) < share, work, anytime)
    return np.clip(out, lo, hi)


def _add_months(days: Array, months: Array) -> Array:
    """Calendar dates (days since the epoch) plus whole months, clipped to the month's last day."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.asarray(months, dtype=np.int64)
    length = ((m2 + 1).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(np.int64)
    out = m2.astype("datetime64[D]") + np.minimum(dom, length - 1)
    return out.astype(np.int64)


def _seasonal(rng: np.random.Generator, first: Array, second: Array) -> Array:
    """Calendar times thinned by SEASON: a draw in a slow month is often replaced by a second draw."""
    month = np.floor(first).astype(np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    keep = rng.random(len(first)) < SEASON[month] / SEASON.max()
    return np.where(keep, first, second)


def _quarter(days: Array) -> Array:
    """Quarter index (months since 1970 // 3) of calendar days since the epoch."""
    return np.asarray(days, np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) // 3


# ---- small vectorised helpers -------------------------------------------------------------------
def _choice(rng: np.random.Generator, weights: Sequence[float] | Array, n: int) -> Array:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _choice_by_group(rng: np.random.Generator, groups: Array, table: Array) -> Array:
    """For each element, an index drawn with the probabilities of its group's row of `table`."""
    out = np.zeros(len(groups), dtype=np.int64)
    for g in range(table.shape[0]):
        m = groups == g
        if m.any():
            out[m] = _choice(rng, table[g], int(m.sum()))
    return out


def _repeat_index(counts: Array) -> Array:
    """0,0,1,2,2,2 for counts 2,1,3: the owner of each generated row."""
    return np.repeat(np.arange(len(counts)), counts)


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def _duplicated(values: Array) -> Array:
    """True for every later occurrence of a value already seen."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    dup = np.zeros(len(values), dtype=bool)
    dup[order[1:]] = s[1:] == s[:-1]
    return dup


def _pick_strings(rng: np.random.Generator, options: Sequence[str], n: int,
                  weights: Sequence[float] | Array | None = None) -> Array:
    opts = np.array(options)
    if weights is None:
        return opts[rng.integers(0, len(opts), n)]
    return opts[_choice(rng, weights, n)]


def _ensure(flags: Array, eligible: Array) -> Array:
    """Make sure a rare feature shows up at least once when some row could have it (small datasets)."""
    if eligible.any() and not (flags & eligible).any():
        flags = flags.copy()
        flags[np.flatnonzero(eligible)[0]] = True
    return flags


def _round_money(x: Array) -> Array:
    """Amounts as salespeople quote them: to the thousand above ¥100,000, else to the hundred."""
    return np.where(x >= 100_000, np.round(x / 1000.0) * 1000.0, np.maximum(np.round(x / 100.0) * 100.0, 100.0))


# ---- Arrow output -------------------------------------------------------------------------------
ARROW_TYPE = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32(), "DOUBLE": pa.float64()}


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string()),
                          width=max(width, len(str(n))), padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _take(values: pa.Array, index: Array, valid: Array | None = None) -> pa.Array:
    """values[index], null where `valid` is False or `index` is negative."""
    index = np.asarray(index, dtype=np.int64)
    mask = index < 0 if valid is None else (~np.asarray(valid, dtype=bool)) | (index < 0)
    return values.take(pa.array(np.where(mask, 0, index), mask=mask if mask.any() else None))


def _labels(options: Sequence[str], codes: Array, valid: Array | None = None) -> pa.Array:
    return _take(pa.array(list(options), pa.string()), codes, valid)


def _timestamps(days: Array, valid: Array | None = None) -> pa.Array:
    """Calendar days since the epoch -> TIMESTAMP to the minute."""
    minutes = np.floor(np.nan_to_num(np.asarray(days, np.float64)) * 1440.0 + 1e-7).astype(np.int64)
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(minutes * 60_000_000, type=pa.timestamp("us"), mask=mask)


def _dates(days: Array, valid: Array | None = None) -> pa.Array:
    d = np.floor(np.nan_to_num(np.asarray(days, np.float64))).astype(np.int32)
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(d, type=pa.date32(), mask=mask)


def _numbers(x: Array, valid: Array | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.nan_to_num(np.asarray(x, np.float64)), type=pa.float64(), mask=mask)


def _conform(name: str, table: pa.Table) -> pa.Table:
    """Exactly the canonical columns, in order, with the database's types."""
    spec = TABLES[name]
    assert tuple(table.column_names) == spec.column_names, (name, table.column_names)
    schema = pa.schema([pa.field(c.name, ARROW_TYPE[SQL_TYPE[c.kind]]) for c in spec.columns])
    return table.cast(schema)


# ---- people -------------------------------------------------------------------------------------
@dataclass
class _People:
    ids: pa.Array
    names: Array
    region: Array  # region code
    team: Array  # team names
    role: Array  # 0 sales, 1 employee, 2 partner
    dept: Array  # department code for employees, -1 otherwise
    manager: Array  # person index or -1
    hire: Array  # calendar day
    skill: Array  # sales conversion lift (log scale)

    def table(self) -> pa.Table:
        return pa.table({
            "rep_id": self.ids, "rep_name": pa.array(self.names, pa.string()),
            "region": _labels(REGIONS, self.region), "team": pa.array(self.team, pa.string()),
            "role": _labels(("sales", "employee", "partner"), self.role),
            "manager_id": _take(self.ids, self.manager), "hire_date": _dates(self.hire),
        })

    def pool(self, members: Array, groups: Array | None = None, n_groups: int = 1) -> _Pool:
        return _Pool.build(np.flatnonzero(members), self.hire, groups, n_groups)


@dataclass(frozen=True)
class _Pool:
    """People to pick from by group (e.g. region): someone hired by the time, else anyone in the group.

    `recent` > 1 favours the latest hires (new reps get the new accounts while their books fill up).
    """

    idx: Array  # person indices sorted by (group, hire)
    key: Array
    start: Array  # per group (the last group is everybody)
    count: Array

    @classmethod
    def build(cls, members: Array, hire: Array, groups: Array | None, n_groups: int) -> _Pool:
        g = np.zeros(len(members), np.int64) if groups is None else np.asarray(groups, np.int64)[members]
        # every member also sits in the catch-all group n_groups
        g_all = np.concatenate([g, np.full(len(members), n_groups)])
        m_all = np.concatenate([members, members])
        key = g_all * 1e6 + hire[m_all]
        order = np.argsort(key, kind="stable")
        count = np.bincount(g_all, minlength=n_groups + 1)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        return cls(m_all[order], key[order], start, count)

    def pick(self, rng: np.random.Generator, when: Array, groups: Array | None = None,
             recent: float = 1.0) -> Array:
        when = np.asarray(when, np.float64)
        n_groups = len(self.count) - 1
        g = np.zeros(len(when), np.int64) if groups is None else np.asarray(groups, np.int64).copy()
        g = np.where(self.count[g] > 0, g, n_groups)
        hired = np.searchsorted(self.key, g * 1e6 + when, side="right") - self.start[g]
        n = np.where(hired > 0, hired, self.count[g])
        k = np.minimum((rng.random(len(when)) ** (1.0 / recent) * n).astype(np.int64), n - 1)
        return self.idx[self.start[g] + k]


def _person_names(rng: np.random.Generator, n: int) -> Array:
    ranks = np.arange(len(SURNAMES))
    surname_w = 1.0 / (ranks + 6.0)

    def make(k: int) -> Array:
        s = _pick_strings(rng, SURNAMES, k, surname_w)
        g1 = _pick_strings(rng, GIVEN_CHARS, k)
        g2 = np.where(rng.random(k) < 0.7, _pick_strings(rng, GIVEN_CHARS, k), "")
        return np.strings.add(np.strings.add(s, g1), g2).astype("U12")

    names = make(n)
    for _ in range(20):
        dup = _duplicated(names)
        if not dup.any():
            break
        names[dup] = make(int(dup.sum()))
    dup = _duplicated(names)  # a namesake left over: HR tells them apart with a number, e.g. 张伟2
    names[dup] = np.strings.add(names[dup], (np.flatnonzero(dup) % 97 + 2).astype("U3"))
    return names


def _company_names(rng: np.random.Generator, region: Array, industry: Array, segment: Array | None,
                   words: tuple[tuple[str, ...], ...] | None = None) -> Array:
    """上海瑞达精密制造有限公司: city + brand + trade + legal form, unique."""
    n = len(region)
    city_p = np.zeros((len(REGIONS), max(len(c) for c in CITIES)))
    for r, cities in enumerate(CITIES):
        w = 1.0 / (np.arange(len(cities)) + 1.5)
        city_p[r, : len(cities)] = w / w.sum()
    city_k = _choice_by_group(rng, region, city_p)
    flat_cities = np.array([c for cities in CITIES for c in cities])
    offsets = np.cumsum([0] + [len(c) for c in CITIES])[:-1]
    city = flat_cities[offsets[region] + city_k]
    words = words or INDUSTRY_WORDS
    trade_opts = np.array([w for ws in words for w in ws])
    trade_off = np.cumsum([0] + [len(w) for w in words])[:-1]
    trade_len = np.array([len(w) for w in words])
    trade = trade_opts[trade_off[industry] + (rng.random(n) * trade_len[industry]).astype(np.int64)]
    legal = np.full(n, "有限公司", dtype="U8")
    if segment is not None:
        u = rng.random(n)
        legal[(segment == 0) & (u < 0.55)] = "股份有限公司"
        legal[(segment == 0) & (u >= 0.85)] = "集团有限公司"
        legal[(segment == 1) & (u < 0.12)] = "股份有限公司"

    def brand(k: int, length: int) -> Array:
        b = _pick_strings(rng, BRAND_CHARS, k)
        for _ in range(length - 1):
            b = np.strings.add(b, _pick_strings(rng, BRAND_CHARS, k))
        return b

    def assemble(idx: Array, length: int) -> Array:
        return np.strings.add(np.strings.add(np.strings.add(city[idx], brand(len(idx), length)), trade[idx]),
                              legal[idx]).astype("U32")

    names = assemble(np.arange(n), 2)
    for attempt in range(20):
        dup = _duplicated(names)
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        names[idx] = assemble(idx, 2 if attempt < 3 else 3)
    dup = _duplicated(names)
    names[dup] = np.strings.add(names[dup], np.strings.add("(", np.strings.add(
        (np.flatnonzero(dup) % 997).astype("U4"), ")")))
    return names


def _cn_number(k: Array) -> Array:
    """1..99 in Chinese numerals (一, 十二, 三十五), larger numbers in digits."""
    digits = np.array(list("零一二三四五六七八九"))
    k = np.asarray(k, np.int64)
    tens, ones = k // 10, k % 10
    tens_part = np.where(tens == 0, "", np.where(tens == 1, "十", np.strings.add(digits[tens % 10], "十")))
    ones_part = np.where(ones == 0, "", digits[ones])
    out = np.strings.add(tens_part, ones_part)
    return np.where(k >= 100, k.astype("U6"), out)


def _growth(rng: np.random.Generator, n: int, slope: float) -> Array:
    """Points in [0, 1] with density proportional to 1 + slope * x: a business that keeps growing."""
    u = rng.random(n)
    return (-1.0 + np.sqrt(1.0 + 2.0 * slope * u * (1.0 + slope / 2.0))) / slope


def _allocate(total: int, weights: Sequence[float], minimum: int = 1) -> Array:
    w = np.asarray(weights, np.float64)
    alloc = np.maximum(minimum, np.floor(w * total)).astype(np.int64)
    while alloc.sum() < total:
        alloc[np.argmax(w * total - alloc)] += 1
    while alloc.sum() > total:
        alloc[np.argmax(alloc)] -= 1
    return alloc


def _people(rng: np.random.Generator, accounts: int, clock: _Clock) -> _People:
    n_sales = max(10, round(accounts / 20))
    n_emp = max(len(DEPARTMENTS) + 2, round(n_sales * 0.35))
    n_partner = max(len(REGIONS), round(n_sales * 0.08))
    founded = clock.start - FOUNDED_BEFORE_DAYS
    span = clock.now - founded

    # sales: per region a director, then teams of seven under a team lead
    per_region = _allocate(n_sales, REGION_WEIGHTS)
    s_region = _repeat_index(per_region)
    s_pos = np.arange(n_sales) - np.repeat(np.cumsum(per_region) - per_region, per_region)
    s_first = np.repeat(np.cumsum(per_region) - per_region, per_region)
    team_no = (s_pos - 1) // 7  # -1 for the director
    is_director, is_lead = s_pos == 0, (s_pos >= 1) & ((s_pos - 1) % 7 == 0)
    s_manager = np.where(is_director, -1, np.where(is_lead, s_first, s_first + 1 + team_no * 7))
    regions = np.array(REGIONS)
    s_team = np.where(is_director, np.strings.add(regions[s_region], "大区"),
                      np.strings.add(np.strings.add(regions[s_region], _cn_number(team_no + 1)), "组"))
    # directors join at the founding; teams fill up one after another as the company grows
    x = np.where(is_director, -1.0, _growth(rng, n_sales, 1.5))
    x = x[np.lexsort((x, s_region))]  # region-major like the layout: earlier positions join earlier
    s_hire = np.where(is_director, founded + rng.uniform(0, 30, n_sales), founded + 20 + x * (span - 110))

    # employees: departments, each under its head (the first member)
    per_dept = _allocate(n_emp, DEPARTMENT_WEIGHTS)
    e_dept = _repeat_index(per_dept)
    e_first = n_sales + np.repeat(np.cumsum(per_dept) - per_dept, per_dept)
    e_manager = np.where(np.arange(n_sales, n_sales + n_emp) == e_first, -1, e_first)
    e_region = _choice(rng, REGION_WEIGHTS, n_emp)
    e_hire = np.where(e_manager < 0, founded + rng.uniform(0, 45, n_emp),
                      founded + 30 + _growth(rng, n_emp, 1.5) * (span - 120))

    # partners: channel companies, looked after by the channel department's head
    p_region = np.concatenate([np.arange(len(REGIONS)), _choice(rng, REGION_WEIGHTS, n_partner - len(REGIONS))])
    # partners (their "hire date" is when the partnership was signed): one per region in the first
    # half year, more later
    p_hire = clock.start + _growth(rng, n_partner, 1.0) * (span - 240)
    p_hire[: len(REGIONS)] = clock.start + rng.uniform(30, 180, len(REGIONS))
    channel_head = n_sales + int(np.sum(per_dept[:CHANNEL_DEPT]))
    p_names = _company_names(rng, p_region, rng.integers(0, len(PARTNER_WORDS), n_partner), None,
                             words=tuple((w,) for w in PARTNER_WORDS))

    n = n_sales + n_emp + n_partner
    names = np.concatenate([_person_names(rng, n_sales + n_emp), p_names]).astype("U40")
    region = np.concatenate([s_region, e_region, p_region])
    team = np.concatenate([s_team, np.array(DEPARTMENTS)[e_dept], np.full(n_partner, "渠道合作伙伴")]).astype("U20")
    role = np.concatenate([np.zeros(n_sales, np.int64), np.ones(n_emp, np.int64), np.full(n_partner, 2)])
    dept = np.concatenate([np.full(n_sales, -1), e_dept, np.full(n_partner, -1)])
    manager = np.concatenate([s_manager, e_manager, np.full(n_partner, channel_head)])
    hire = np.floor(np.concatenate([s_hire, e_hire, p_hire]))
    dow = (hire.astype(np.int64) - 4) % 7  # people start on a weekday
    hire = hire + np.where(dow == 5, 2, np.where(dow == 6, 1, 0))
    skill = np.where(role == 0, rng.normal(0.0, 0.07, n), 0.0)

    # employee numbers follow hire dates
    order = np.lexsort((np.arange(n), hire))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    manager = np.where(manager >= 0, rank[np.maximum(manager, 0)], -1)
    return _People(ids=_ids("R", n, 4), names=names[order], region=region[order], team=team[order],
                   role=role[order], dept=dept[order], manager=manager[order], hire=hire[order],
                   skill=skill[order])


# ---- accounts -----------------------------------------------------------------------------------
@dataclass
class _Accounts:
    created: Array  # calendar days
    region: Array
    segment: Array
    industry: Array
    owner: Array  # person index or -1
    health: Array  # latent, standard normal-ish
    names: Array
    ids: pa.Array

    def table(self, people: _People) -> pa.Table:
        return pa.table({
            "account_id": self.ids, "account_name": pa.array(self.names, pa.string()),
            "region": _labels(REGIONS, self.region), "segment": _labels(SEGMENTS, self.segment),
            "industry": _labels(INDUSTRIES, self.industry), "owner_rep_id": _take(people.ids, self.owner),
            "created_at": _timestamps(self.created),
        })


def _accounts(rng: np.random.Generator, n: int, clock: _Clock, people: _People) -> _Accounts:
    # arrivals speed up as the company grows
    w0, w1 = _to_work(np.array([clock.start])), _to_work(np.array([clock.now - 10.0]))
    created = _seasonal(rng, _from_work(w0 + _growth(rng, n, 2.0) * (w1 - w0)),
                        _from_work(w0 + _growth(rng, n, 2.0) * (w1 - w0)))
    created = np.sort(created)  # account numbers follow creation
    region = _choice(rng, REGION_WEIGHTS, n)
    segment = _choice(rng, SEGMENT_WEIGHTS, n)
    industry = _choice(rng, INDUSTRY_WEIGHTS, n)
    health = rng.normal(0.0, 1.0, n) + np.array([0.25, 0.05, -0.1])[segment]
    sales = people.pool(people.role == 0, people.region, len(REGIONS))
    owner = sales.pick(rng, created, region, recent=2.0)
    owner = np.where(rng.random(n) < 0.03, -1, owner)  # a few accounts nobody owns
    names = _company_names(rng, region, industry, segment)
    return _Accounts(created, region, segment, industry, owner, health, names, _ids("A", n, 6))


# ---- deals and their stage history --------------------------------------------------------------
@dataclass
class _Deals:
    account: Array  # account index (always known internally)
    account_known: Array  # False: the export lost the account
    created: Array  # calendar days
    created_known: Array
    owner: Array  # person index or -1
    referrer: Array  # person index or -1
    source: Array  # code or -1
    amount: Array
    amount_known: Array
    stage: Array  # current stage code
    status: Array  # 0 open, 1 won, 2 lost
    closed: Array  # calendar days, nan when open
    hist_deal: Array  # history rows: deal index, stage code, calendar days
    hist_stage: Array
    hist_at: Array
    ids: pa.Array

    def table(self, people: _People, accts: _Accounts) -> pa.Table:
        return pa.table({
            "deal_id": self.ids, "stage": _labels(STAGE_NAMES, self.stage),
            "account_id": _take(accts.ids, self.account, self.account_known),
            "owner_rep_id": _take(people.ids, self.owner), "amount": _numbers(self.amount, self.amount_known),
            "created_at": _timestamps(self.created, self.created_known),
            "closed_at": _timestamps(self.closed, ~np.isnan(self.closed)),
            "status": _labels(("open", "won", "lost"), self.status),
            "referrer_id": _take(people.ids, self.referrer), "source": _labels(SOURCES, self.source),
        })

    def history_table(self) -> pa.Table:
        return pa.table({"deal_id": _take(self.ids, self.hist_deal), "stage": _labels(STAGE_NAMES, self.hist_stage),
                         "entered_at": _timestamps(self.hist_at)})


def _deals(rng: np.random.Generator, clock: _Clock, people: _People, accts: _Accounts) -> _Deals:
    n_acc = len(accts.created)
    now_w = _to_work(np.array([clock.now]))[0]
    # older and larger accounts have more deals; about DEALS_PER_ACCOUNT per account overall
    age = (clock.now - accts.created) / (clock.now - clock.start)
    base = np.array([1.8, 1.0, 0.7])[accts.segment] * (0.3 + 0.7 * age)
    extra = rng.poisson(base * (DEALS_PER_ACCOUNT - 1.0) * n_acc / base.sum())
    per_account = 1 + extra
    acc = _repeat_index(per_account)
    first = np.ones(len(acc), dtype=bool)
    first[1:] = acc[1:] != acc[:-1]
    acc_w = _to_work(accts.created)[acc]
    span_w = now_w - 1.0 - acc_w
    later = _to_work(_seasonal(rng, _from_work(acc_w + rng.random(len(acc)) * span_w),
                               _from_work(acc_w + rng.random(len(acc)) * span_w)))
    created_w = np.where(first, acc_w + rng.exponential(1.5 * WORK_PER_DAY, len(acc)), later)
    created_w = np.minimum(created_w, now_w - 0.5)
    order = np.argsort(created_w, kind="stable")  # deal numbers follow creation
    acc, first, created_w = acc[order], first[order], created_w[order]
    n = len(acc)
    seg, region = accts.segment[acc], accts.region[acc]
    created = _from_work(created_w)

    # owner: the account's owner, sometimes a colleague of the region (or nobody, rarely)
    sales_pool = people.pool(people.role == 0, people.region, len(REGIONS))
    owner = accts.owner[acc]
    other = sales_pool.pick(rng, created, region)
    owner = np.where((owner < 0) | (rng.random(n) < 0.10), other, owner)
    owner = np.where(rng.random(n) < 0.003, -1, owner)

    # source and referrer (全民经销: anyone in reps may bring a deal)
    source = np.where(first, _choice(rng, SOURCE_WEIGHTS_NEW, n),
                      np.where(rng.random(n) < 0.25, SRC_CUSTOMER, _choice(rng, SOURCE_WEIGHTS_NEW, n)))
    referred = rng.random(n) < REFERRAL_SHARE
    kind = _choice(rng, (0.45, 0.25, 0.25, 0.05), n)  # employee, partner, another rep, the owner
    employee_pool = people.pool(people.role == 1)
    partner_pool = people.pool(people.role == 2, people.region, len(REGIONS))
    referrer = np.select(
        [kind == 0, kind == 1, kind == 2],
        [employee_pool.pick(rng, created), partner_pool.pick(rng, created, region),
         _other_rep(rng, sales_pool, people, owner, created, region)],
        owner)
    referrer = np.where(referred & ((owner >= 0) | (kind < 3)), referrer, -1)
    source = np.where(referrer >= 0, np.where(people.role[np.maximum(referrer, 0)] == 2, SRC_PARTNER, SRC_REFERRAL),
                      source)
    source = np.where((referrer < 0) & (rng.random(n) < 0.03), -1, source)  # a few sources left empty

    # how far each deal gets: consecutive successes through the stages
    lift = np.array(SOURCE_LIFT)[np.maximum(source, 0)] * np.exp(people.skill[np.maximum(owner, 0)])
    p = np.clip(np.array(CONVERSION)[None, :] * lift[:, None], 0.02, 0.95)
    reach = np.cumprod(rng.random((n, len(CONVERSION))) < p, axis=1).sum(axis=1)  # 0..6, 6 = won
    stalled = (rng.random(n) < STALL_CHANCE) & (reach < WON_CODE)  # never decided: open for good

    # which history slots each deal uses
    n_slots = len(SLOT_STAGE)
    used = np.zeros((n, n_slots), dtype=bool)
    old = created < clock.now - 250  # old enough to be finished: where rare features are guaranteed
    for stage, slot in enumerate(SLOT_OF_STAGE):
        skip = (rng.random(n) < SKIP_CHANCE[seg, stage]) & (stage < reach)
        if stage == 2:
            skip = _ensure(skip, old & (reach == WON_CODE))
        used[:, slot] = (stage <= reach) & ~skip
    rescope = (rng.random(n) < RESCOPE_CHANCE) & (reach >= 4) & used[:, SLOT_OF_STAGE[4]]
    rescope = _ensure(rescope, old & (reach == WON_CODE) & used[:, SLOT_OF_STAGE[4]])
    back = (rng.random(n) < BACK_CHANCE) & (reach >= 5) & used[:, SLOT_OF_STAGE[5]]
    back = _ensure(back, old & (reach == WON_CODE) & used[:, SLOT_OF_STAGE[5]])
    for slot in RESCOPE_SLOTS:
        used[:, slot] = rescope
    for slot in BACK_SLOTS:
        used[:, slot] = back
    used[:, FINAL_SLOT] = ~stalled
    slot_stage = np.broadcast_to(SLOT_STAGE, (n, n_slots)).copy()
    slot_stage[:, FINAL_SLOT] = np.where(reach == WON_CODE, WON_CODE, LOST_CODE)

    # time in each slot (working hours), then entry times as running sums over the used slots
    pace = SEGMENT_PACE[seg][:, None] * SLOT_DAYS[None, :] * WORK_PER_DAY
    dur = pace * rng.lognormal(0.0, 0.75, (n, n_slots - 1))
    dur = np.where(used[:, :-1], np.maximum(dur, 0.5), 0.0)
    entered_w = created_w[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(dur, axis=1)], axis=1)
    del dur
    entered = _from_work(entered_w)
    del entered_w
    visible = used & (entered <= clock.now)
    last_slot = n_slots - 1 - np.argmax(visible[:, ::-1], axis=1)
    stage = slot_stage[np.arange(n), last_slot]
    closed_flag = visible[:, FINAL_SLOT]
    status = np.where(closed_flag, np.where(reach == WON_CODE, 1, 2), 0)
    closed = np.where(closed_flag, entered[:, FINAL_SLOT], np.nan)

    rows, cols = np.nonzero(visible)  # row-major: per deal, in slot (= time) order
    hist_deal, hist_stage, hist_at = rows, slot_stage[rows, cols], entered[rows, cols]
    del visible, entered, used, slot_stage

    # amounts: annual contract value by segment
    amount = AMOUNT_MEDIAN[seg] * rng.lognormal(0.0, AMOUNT_SIGMA[seg])
    amount = amount * np.where(source == SRC_CUSTOMER, 0.2, np.where(first, 1.0, 0.3))  # add-ons are smaller
    amount = _round_money(amount)
    no_amount_p = np.where(status == 0, np.array([0.25, 0.15, 0.06, 0.0, 0.0, 0.0, 0.0, 0.0])[stage], 0.0)
    amount_known = rng.random(n) >= no_amount_p

    # early exports have gaps: a few deals without their account or creation date
    early = created < clock.start + 180
    account_known = ~_ensure(early & (rng.random(n) < 0.03), early)
    created_known = ~_ensure(early & (rng.random(n) < 0.02), early & account_known)

    # make sure the people who refer are visible in won deals, even in a small dataset
    won = status == 1
    for role in (1, 2):  # employees, partners
        have = won & (referrer >= 0) & (people.role[np.maximum(referrer, 0)] == role)
        free = np.flatnonzero(won & (referrer < 0) & (owner >= 0))
        if not have.any() and len(free):
            i = free[0]
            pool = employee_pool if role == 1 else partner_pool
            referrer[i] = pool.pick(rng, created[i : i + 1], region[i : i + 1] if role == 2 else None)[0]
            source[i] = SRC_REFERRAL if role == 1 else SRC_PARTNER

    return _Deals(account=acc, account_known=account_known, created=created, created_known=created_known,
                  owner=owner, referrer=referrer, source=source, amount=amount, amount_known=amount_known,
                  stage=stage, status=status, closed=closed, hist_deal=hist_deal, hist_stage=hist_stage,
                  hist_at=hist_at, ids=_ids("D", n, 7))


def _other_rep(rng: np.random.Generator, pool: _Pool, people: _People, owner: Array, when: Array,
               region: Array) -> Array:
    """A sales rep of the region who is not `owner` (anyone else in sales when the region has one rep)."""
    pick = pool.pick(rng, when, region)
    sales = np.flatnonzero(people.role == 0)
    clash = pick == owner
    if clash.any():
        pos = np.searchsorted(sales, np.maximum(owner[clash], 0))
        step = 1 + rng.integers(0, len(sales) - 1, int(clash.sum()))
        pick[clash] = sales[(pos + step) % len(sales)]
    return pick


def _splits(rng: np.random.Generator, people: _People, deals: _Deals) -> pa.Table:
    won = (deals.status == 1) & (deals.owner >= 0)
    split = won & (rng.random(len(won)) < SPLIT_SHARE)
    split = _ensure(split, won)
    idx = np.flatnonzero(split)
    first_share = np.array([0.5, 0.6, 0.7])[_choice(rng, (0.35, 0.45, 0.20), len(idx))]
    sales_pool = people.pool(people.role == 0, people.region, len(REGIONS))
    partner = _other_rep(rng, sales_pool, people, deals.owner[idx], deals.created[idx],
                         people.region[deals.owner[idx]])
    deal = np.repeat(idx, 2)
    rep = np.column_stack([deals.owner[idx], partner]).ravel()
    share = np.column_stack([first_share, 1.0 - first_share]).ravel()
    return pa.table({"deal_id": _take(deals.ids, deal), "rep_id": _take(people.ids, rep),
                     "share": _numbers(share)})


# ---- contracts ----------------------------------------------------------------------------------
@dataclass
class _Contracts:
    account: Array
    start: Array  # calendar day
    end: Array  # calendar day, nan when ongoing
    mrr: Array

    def table(self, accts: _Accounts) -> pa.Table:
        order = np.lexsort((self.account, self.start))  # contract numbers follow start dates
        return pa.table({
            "contract_id": _ids("C", len(order), 7), "account_id": _take(accts.ids, self.account[order]),
            "start_date": _dates(self.start[order]), "end_date": _dates(self.end[order], ~np.isnan(self.end[order])),
            "mrr": _numbers(self.mrr[order]),
        })


def _contracts(rng: np.random.Generator, clock: _Clock, accts: _Accounts, deals: _Deals) -> _Contracts:
    today = clock.today
    won = np.flatnonzero((deals.status == 1) & deals.account_known)
    acc = deals.account[won]
    seg, health = accts.segment[acc], accts.health[acc]
    start = np.floor(deals.closed[won])
    mrr = np.round(deals.amount[won] / 12.0, 2)
    m = len(won)
    # 0: monthly subscription (no end date), 1: one-year term, 2: two-year term
    term_kind = _choice_by_group(rng, seg, np.array([[0.20, 0.55, 0.25], [0.35, 0.60, 0.05], [0.50, 0.50, 0.0]]))
    # a few customers cancel within 90 days of the win (commission clawbacks); add-ons less often
    by_close = np.lexsort((start, acc))
    first_chain = np.zeros(m, dtype=bool)
    first_chain[by_close[np.diff(acc[by_close], prepend=-1) != 0]] = True
    only_win = np.bincount(acc, minlength=len(accts.created))[acc] == 1
    early_end = start + rng.uniform(20, 89, m)
    early_p = _sigmoid(-3.6 - 0.8 * health) * np.where(first_chain, 1.0, 0.3)
    early = (rng.random(m) < early_p) & (early_end <= today)
    early = _ensure(early, only_win & (start + 90 <= today))

    out_acc, out_start, out_end, out_mrr = [acc[early]], [start[early]], [np.floor(early_end[early])], [mrr[early]]
    # monthly subscriptions: cancelled at some point, or still running
    sub = ~early & (term_kind == 0)
    hazard = _sigmoid(-4.3 - 0.9 * health[sub] + np.array([-0.5, 0.0, 0.4])[seg[sub]])  # per month
    cancel = np.floor(start[sub] + np.maximum(rng.exponential(1.0 / hazard) * 30.44, 7.0))
    out_acc.append(acc[sub])
    out_start.append(start[sub])
    out_end.append(np.where(cancel <= today, cancel, np.nan))
    out_mrr.append(mrr[sub])
    # terms: renewed flat, up or down, or not at all, until a term runs past today
    term = ~early & (term_kind > 0)
    c_acc, c_start, c_mrr = acc[term], start[term], mrr[term]
    c_months, c_health, c_seg = term_kind[term] * 12, health[term], seg[term]
    while len(c_acc):
        end = _add_months(c_start, c_months).astype(np.float64)
        out_acc.append(c_acc)
        out_start.append(c_start)
        out_end.append(np.where(end <= today, end, np.nan))  # the running term: ongoing, no end yet
        out_mrr.append(c_mrr)
        renew = (end <= today) & (rng.random(len(c_acc)) < _sigmoid(1.9 + 1.1 * c_health
                                                                     + np.array([0.4, 0.0, -0.3])[c_seg]))
        u = rng.random(len(c_acc))
        p_up = np.clip(0.12 + 0.06 * c_health, 0.03, 0.4)
        p_down = np.clip(0.16 - 0.06 * c_health, 0.04, 0.4)
        change = np.where(u < p_up, rng.uniform(1.1, 1.4, len(u)),
                          np.where(u < p_up + p_down, rng.uniform(0.6, 0.9, len(u)),
                                   np.where(rng.random(len(u)) < 0.5, 1.0, 1.05)))
        keep = np.flatnonzero(renew)
        c_acc, c_start, c_mrr = c_acc[keep], end[keep], np.round(c_mrr[keep] * change[keep], 2)
        c_months, c_health, c_seg = c_months[keep], c_health[keep], c_seg[keep]
    return _Contracts(np.concatenate(out_acc), np.concatenate(out_start), np.concatenate(out_end),
                      np.concatenate(out_mrr))


@dataclass
class _Windows:
    """Per account: when it was a customer (nan when never) and whether it has churned."""

    first: Array  # calendar day of the first contract
    last: Array  # churn day, or now
    churned: Array


def _customer_windows(clock: _Clock, accts: _Accounts, contracts: _Contracts) -> _Windows:
    n = len(accts.created)
    first = np.full(n, np.inf)
    np.minimum.at(first, contracts.account, contracts.start)
    end = np.where(np.isnan(contracts.end), np.inf, contracts.end)
    last = np.full(n, -np.inf)
    np.maximum.at(last, contracts.account, end)
    customer = np.isfinite(first)
    churned = customer & (last <= clock.today)
    first = np.where(customer, first + 0.375, np.nan)  # from 09:00 on the first day
    last = np.where(churned, last, np.where(customer, clock.now, np.nan))
    return _Windows(first, last, churned)


# ---- service: tickets and surveys ---------------------------------------------------------------
@dataclass
class _Tickets:
    account: Array
    opened: Array
    response: Array  # nan: never answered
    resolved: Array
    assignee: Array
    ids: pa.Array
    arrow: pa.Table


def _tickets(rng: np.random.Generator, clock: _Clock, people: _People, accts: _Accounts,
             window: _Windows) -> _Tickets:
    customer = np.flatnonzero(~np.isnan(window.first))
    months = (window.last[customer] - window.first[customer]) / 30.44
    rate = np.array([2.2, 0.9, 0.35])[accts.segment[customer]] * np.exp(-0.35 * accts.health[customer])
    count = rng.poisson(np.maximum(rate * months, 0.0))
    acc = customer[_repeat_index(count)]
    opened = _work_uniform(rng, window.first[acc], window.last[acc], share=0.75)
    order = np.argsort(opened, kind="stable")
    acc, opened = acc[order], opened[order]
    n = len(acc)
    priority = _choice(rng, PRIORITY_WEIGHTS, n)
    channel = _choice(rng, TICKET_CHANNEL_WEIGHTS, n)
    median_h = np.array([5.0, 2.5, 1.2, 0.4])[priority] * np.exp(-0.15 * accts.health[acc])
    response = opened + np.maximum(median_h * rng.lognormal(0.0, 1.25, n), 0.05) / 24.0
    unanswered = rng.random(n) < np.array([0.05, 0.03, 0.015, 0.005])[priority]
    unanswered = _ensure(unanswered, opened < clock.now - 30)
    answered = ~unanswered & (response <= clock.now)
    resolved = response + rng.lognormal(np.log(20.0), 1.3, n) / 24.0
    is_resolved = answered & (resolved <= clock.now)
    support = people.pool(np.isin(people.dept, SUPPORT_DEPTS))
    who = rng.random(n)
    assignee = np.where(who < 0.85, support.pick(rng, opened), np.where(who < 0.93, accts.owner[acc], -1))
    ids = _ids("T", n, 7)
    arrow = pa.table({
        "ticket_id": ids, "account_id": _take(accts.ids, acc), "opened_at": _timestamps(opened),
        "first_response_at": _timestamps(response, answered), "resolved_at": _timestamps(resolved, is_resolved),
        "channel": _labels(TICKET_CHANNELS, channel), "priority": _labels(PRIORITIES, priority),
        "assignee_id": _take(people.ids, assignee),
    })
    return _Tickets(acc, opened, np.where(answered, response, np.nan), np.where(is_resolved, resolved, np.nan),
                    assignee, ids, arrow)


def _surveys(rng: np.random.Generator, clock: _Clock, people: _People, accts: _Accounts, window: _Windows,
             tickets: _Tickets) -> pa.Table:
    kinds = ("csat", "nps", "ces")
    parts: list[dict[str, Array]] = []

    # after a resolved ticket: CSAT (35 %) or CES (12 %)
    resolved = np.flatnonzero(~np.isnan(tickets.resolved))
    u = rng.random(len(resolved))
    for code, lo_p, hi_p in ((0, 0.0, 0.35), (2, 0.35, 0.47)):
        t = resolved[(u >= lo_p) & (u < hi_p)]
        at = tickets.resolved[t] + rng.exponential(8.0, len(t)) / 24.0
        keep = at <= clock.now
        t, at = t[keep], at[keep]
        slow = (tickets.response[t] - tickets.opened[t]) * 24.0 > 24.0
        parts.append({"account": tickets.account[t], "at": at, "kind": np.full(len(t), code),
                      "slow": slow.astype(np.float64), "rep": tickets.assignee[t], "ticket": t})

    # relationship surveys: each half-year a customer may be asked for NPS (55 %) or CSAT (20 %)
    customer = np.flatnonzero(~np.isnan(window.first))
    h0 = _add_months(np.array([clock.start]), np.array([0]))[0]
    halves = _add_months(np.full(7, h0), np.arange(7) * 6).astype(np.float64)
    acc = np.repeat(customer, len(halves) - 1)
    lo = np.maximum(np.tile(halves[:-1], len(customer)), window.first[acc])
    hi = np.minimum(np.tile(halves[1:], len(customer)), window.last[acc])
    ok = hi - lo >= 7
    acc, lo, hi = acc[ok], lo[ok], hi[ok]
    u = rng.random(len(acc))
    for code, lo_p, hi_p in ((1, 0.0, 0.55), (0, 0.55, 0.75)):
        sel = (u >= lo_p) & (u < hi_p)
        parts.append({"account": acc[sel], "at": _work_uniform(rng, lo[sel], hi[sel], share=0.8),
                      "kind": np.full(int(sel.sum()), code), "slow": np.zeros(int(sel.sum())),
                      "rep": accts.owner[acc[sel]], "ticket": np.full(int(sel.sum()), -1)})

    acc = np.concatenate([p["account"] for p in parts])
    at = np.concatenate([p["at"] for p in parts])
    kind = np.concatenate([p["kind"] for p in parts]).astype(np.int64)
    slow = np.concatenate([p["slow"] for p in parts])
    rep = np.concatenate([p["rep"] for p in parts]).astype(np.int64)
    ticket = np.concatenate([p["ticket"] for p in parts]).astype(np.int64)
    order = np.argsort(at, kind="stable")
    acc, at, kind, slow, rep, ticket = acc[order], at[order], kind[order], slow[order], rep[order], ticket[order]
    n = len(acc)

    h = accts.health[acc]
    noise = rng.normal(0.0, 1.0, n)
    # customers near churn answer worse than their health alone says
    near_churn = window.churned[acc] & (window.last[acc] - at < 120)
    mood = h - 0.8 * near_churn
    score = np.select(
        [kind == 0, kind == 1],
        [np.clip(np.round(4.3 + 0.45 * mood - 0.6 * slow + 0.75 * noise), 1, 5),
         np.clip(np.round(8.3 + 1.25 * mood + 1.35 * noise), 0, 10)],
        np.clip(np.round(5.4 + 0.6 * mood - 0.8 * slow + 1.0 * noise), 1, 7))
    # sentiment for comments: 0 negative, 1 neutral, 2 positive, by the score's place in its scale
    rel = np.select([kind == 0, kind == 1], [(score - 1) / 4, score / 10], (score - 1) / 6)
    sentiment = np.where(rel >= 0.75, 2, np.where(rel >= 0.5, 1, 0))
    commented = rng.random(n) < np.where(sentiment == 1, 0.10, 0.22)
    flat = np.array([c for group in COMMENTS for c in group])
    offsets = np.cumsum([0] + [len(g) for g in COMMENTS])[:-1]
    lengths = np.array([len(g) for g in COMMENTS])
    comment = offsets[sentiment] + (rng.random(n) * lengths[sentiment]).astype(np.int64)
    return pa.table({
        "response_id": _ids("S", n, 7), "account_id": _take(accts.ids, acc), "submitted_at": _timestamps(at),
        "kind": _labels(kinds, kind), "score": _numbers(score), "rep_id": _take(people.ids, rep),
        "ticket_id": _take(tickets.ids, ticket), "comment": _take(pa.array(flat, pa.string()), comment, commented),
    })


# ---- activities ---------------------------------------------------------------------------------
def _activities(rng: np.random.Generator, clock: _Clock, people: _People, accts: _Accounts, deals: _Deals,
                window: _Windows) -> pa.Table:
    # selling: calls, visits and meetings around each deal, more the further it got
    entries = np.bincount(deals.hist_deal, minlength=len(deals.created))
    per_deal = rng.poisson(0.5 + 1.0 * entries)
    d = _repeat_index(per_deal)
    until = np.where(np.isnan(deals.closed), clock.now, deals.closed)
    sell_at = _work_uniform(rng, deals.created[d], until[d], share=0.92)
    sell_kind = _choice(rng, DEAL_ACTIVITY_WEIGHTS, len(d))
    sell_acc, sell_rep = deals.account[d], deals.owner[d]
    del d

    # customer success: trainings, check-ins and reviews while an account is a customer; healthy
    # accounts hear from their team more, and contact fades in the months before a churn
    customer = np.flatnonzero(~np.isnan(window.first))
    months = (window.last[customer] - window.first[customer]) / 30.44
    rate = np.array([3.0, 1.4, 0.7])[accts.segment[customer]] * np.exp(0.35 * accts.health[customer])
    acc = customer[_repeat_index(rng.poisson(np.maximum(rate * months, 0.0)))]
    at = _work_uniform(rng, window.first[acc], window.last[acc], share=0.9)
    kind = _choice(rng, SUCCESS_ACTIVITY_WEIGHTS, len(acc))
    success = people.pool(people.dept == SUCCESS_DEPT)
    owner = accts.owner[acc]
    rep = np.where((owner >= 0) & (rng.random(len(acc)) < 0.55), owner, success.pick(rng, at))

    acc = np.concatenate([sell_acc, acc])
    at = np.concatenate([sell_at, at])
    kind = np.concatenate([sell_kind, kind])
    rep = np.concatenate([sell_rep, rep])
    del sell_acc, sell_at, sell_kind, sell_rep
    # in the five months before an account churns, contact of every kind dries up
    left = window.last[acc] - at
    fade = np.where(window.churned[acc] & (left >= 0), np.clip(left / 150.0, 0.08, 1.0), 1.0)
    keep = np.flatnonzero(rng.random(len(acc)) < fade)
    acc, at, kind, rep = acc[keep], at[keep], kind[keep], rep[keep]
    order = np.argsort(at, kind="stable")
    acc, at, kind, rep = acc[order], at[order], kind[order], rep[order]
    offline = rng.random(len(acc)) < np.array(OFFLINE_SHARE)[kind]
    return pa.table({
        "activity_id": _ids("X", len(acc), 7), "account_id": _take(accts.ids, acc), "occurred_at": _timestamps(at),
        "kind": _labels(ACTIVITY_KINDS, kind), "channel": _labels(("online", "offline"), offline.astype(np.int64)),
        "rep_id": _take(people.ids, rep),
    })


# ---- quotas -------------------------------------------------------------------------------------
def _quotas(rng: np.random.Generator, clock: _Clock, people: _People, deals: _Deals) -> pa.Table:
    """A quarterly quota per sales rep: the booking trend, scaled to the rep's book, ramped for new hires."""
    sales = np.flatnonzero(people.role == 0)
    quarters = np.arange(_quarter(np.array([clock.start]))[0], _quarter(np.array([clock.today]))[0] + 1)
    nq = len(quarters)
    rep = np.repeat(sales, nq)
    q = np.tile(quarters, len(sales))
    hired_q = _quarter(people.hire)[rep]
    active = q >= hired_q
    rep, q, hired_q = rep[active], q[active], hired_q[active]
    qi = q - quarters[0]
    ramp = np.where(q == hired_q, 0.5, np.where(q == hired_q + 1, 0.75, 1.0))
    period_start = (q * 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)

    # what a fully ramped rep books per quarter, as a log-linear trend (the plan extrapolates it)
    won = np.flatnonzero((deals.status == 1) & deals.amount_known)
    won_qi = _quarter(np.floor(deals.closed[won])) - quarters[0]
    booked = np.bincount(won_qi, weights=deals.amount[won], minlength=nq)
    wins = np.bincount(won_qi, minlength=nq)
    capacity = np.bincount(qi, weights=ramp, minlength=nq)
    rate = booked / np.maximum(capacity, 1.0)
    fit = np.flatnonzero((wins >= 3) & (rate > 0))
    if len(fit) >= 2:
        slope, intercept = np.polyfit(fit, np.log(rate[fit]), 1, w=np.sqrt(wins[fit]))
        trend = np.exp(intercept + slope * np.arange(nq))
    else:
        trend = np.full(nq, max(booked.sum() / max(capacity.sum(), 1.0), 100_000.0))

    # a quota follows the rep's book of business (what the rep booked against what an average rep
    # in the same quarters would have), seasoned reps carry a little more, and plans are rounded
    n_people = len(people.hire)
    owned = won[deals.owner[won] >= 0]
    mine = np.bincount(deals.owner[owned], weights=deals.amount[owned], minlength=n_people)
    average = np.bincount(rep, weights=ramp * trend[qi], minlength=n_people)
    book = 0.3 + 0.7 * np.clip(mine / np.maximum(average, 1.0), 0.2, 4.0)
    tenure_years = (period_start - people.hire[rep]) / 365.0
    personal = rng.lognormal(0.0, 0.08, n_people)[rep]
    raw = trend[qi] * 0.95 * ramp * book[rep] * personal * np.clip(0.9 + 0.08 * tenure_years, 0.9, 1.15)
    quota = np.maximum(np.round(raw / 10_000.0) * 10_000.0, 30_000.0)
    return pa.table({"rep_id": _take(people.ids, rep), "period_start": _dates(period_start),
                     "quota_amount": _numbers(quota)})
