"""The demo's people (reps: sales, employees, channel partners) and accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import (
    Array,
    Clock,
    choice,
    choice_by_group,
    dates,
    duplicated,
    from_work,
    labels,
    make_ids,
    pick_strings,
    repeat_index,
    seasonal,
    take,
    timestamps,
    to_work,
)

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
FOUNDED_BEFORE_DAYS = 60  # the first people join two months before the first account


# ---- people -------------------------------------------------------------------------------------
@dataclass
class People:
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
            "region": labels(REGIONS, self.region), "team": pa.array(self.team, pa.string()),
            "role": labels(("sales", "employee", "partner"), self.role),
            "manager_id": take(self.ids, self.manager), "hire_date": dates(self.hire),
        })

    def pool(self, members: Array, groups: Array | None = None, n_groups: int = 1) -> Pool:
        return Pool.build(np.flatnonzero(members), self.hire, groups, n_groups)


@dataclass(frozen=True)
class Pool:
    """People to pick from by group (e.g. region): someone hired by the time, else anyone in the group.

    `recent` > 1 favours the latest hires (new reps get the new accounts while their books fill up).
    """

    idx: Array  # person indices sorted by (group, hire)
    key: Array
    start: Array  # per group (the last group is everybody)
    count: Array

    @classmethod
    def build(cls, members: Array, hire: Array, groups: Array | None, n_groups: int) -> Pool:
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
        s = pick_strings(rng, SURNAMES, k, surname_w)
        g1 = pick_strings(rng, GIVEN_CHARS, k)
        g2 = np.where(rng.random(k) < 0.7, pick_strings(rng, GIVEN_CHARS, k), "")
        return np.strings.add(np.strings.add(s, g1), g2).astype("U12")

    names = make(n)
    for _ in range(20):
        dup = duplicated(names)
        if not dup.any():
            break
        names[dup] = make(int(dup.sum()))
    dup = duplicated(names)  # a namesake left over: HR tells them apart with a number, e.g. 张伟2
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
    city_k = choice_by_group(rng, region, city_p)
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
        b = pick_strings(rng, BRAND_CHARS, k)
        for _ in range(length - 1):
            b = np.strings.add(b, pick_strings(rng, BRAND_CHARS, k))
        return b

    def assemble(idx: Array, length: int) -> Array:
        return np.strings.add(np.strings.add(np.strings.add(city[idx], brand(len(idx), length)), trade[idx]),
                              legal[idx]).astype("U32")

    names = assemble(np.arange(n), 2)
    for attempt in range(20):
        dup = duplicated(names)
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        names[idx] = assemble(idx, 2 if attempt < 3 else 3)
    dup = duplicated(names)
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


def make_people(rng: np.random.Generator, accounts: int, clock: Clock) -> People:
    n_sales = max(10, round(accounts / 20))
    n_emp = max(len(DEPARTMENTS) + 2, round(n_sales * 0.35))
    n_partner = max(len(REGIONS), round(n_sales * 0.08))
    founded = clock.start - FOUNDED_BEFORE_DAYS
    span = clock.now - founded

    # sales: per region a director, then teams of seven under a team lead
    per_region = _allocate(n_sales, REGION_WEIGHTS)
    s_region = repeat_index(per_region)
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
    e_dept = repeat_index(per_dept)
    e_first = n_sales + np.repeat(np.cumsum(per_dept) - per_dept, per_dept)
    e_manager = np.where(np.arange(n_sales, n_sales + n_emp) == e_first, -1, e_first)
    e_region = choice(rng, REGION_WEIGHTS, n_emp)
    e_hire = np.where(e_manager < 0, founded + rng.uniform(0, 45, n_emp),
                      founded + 30 + _growth(rng, n_emp, 1.5) * (span - 120))

    # partners: channel companies, looked after by the channel department's head
    p_region = np.concatenate([np.arange(len(REGIONS)), choice(rng, REGION_WEIGHTS, n_partner - len(REGIONS))])
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
    return People(ids=make_ids("R", n, 4), names=names[order], region=region[order], team=team[order],
                   role=role[order], dept=dept[order], manager=manager[order], hire=hire[order],
                   skill=skill[order])


# ---- accounts -----------------------------------------------------------------------------------
@dataclass
class Accounts:
    created: Array  # calendar days
    region: Array
    segment: Array
    industry: Array
    owner: Array  # person index or -1
    health: Array  # latent, standard normal-ish
    names: Array
    ids: pa.Array

    def table(self, people: People) -> pa.Table:
        return pa.table({
            "account_id": self.ids, "account_name": pa.array(self.names, pa.string()),
            "region": labels(REGIONS, self.region), "segment": labels(SEGMENTS, self.segment),
            "industry": labels(INDUSTRIES, self.industry), "owner_rep_id": take(people.ids, self.owner),
            "created_at": timestamps(self.created),
        })


def make_accounts(rng: np.random.Generator, n: int, clock: Clock, people: People) -> Accounts:
    # arrivals speed up as the company grows
    w0, w1 = to_work(np.array([clock.start])), to_work(np.array([clock.now - 10.0]))
    created = seasonal(rng, from_work(w0 + _growth(rng, n, 2.0) * (w1 - w0)),
                        from_work(w0 + _growth(rng, n, 2.0) * (w1 - w0)))
    created = np.sort(created)  # account numbers follow creation
    region = choice(rng, REGION_WEIGHTS, n)
    segment = choice(rng, SEGMENT_WEIGHTS, n)
    industry = choice(rng, INDUSTRY_WEIGHTS, n)
    health = rng.normal(0.0, 1.0, n) + np.array([0.25, 0.05, -0.1])[segment]
    sales = people.pool(people.role == 0, people.region, len(REGIONS))
    owner = sales.pick(rng, created, region, recent=2.0)
    owner = np.where(rng.random(n) < 0.03, -1, owner)  # a few accounts nobody owns
    names = _company_names(rng, region, industry, segment)
    return Accounts(created, region, segment, industry, owner, health, names, make_ids("A", n, 6))
