"""UI texts in English and Chinese. KPI and column labels come from `b2bmetrics.registry`, not from
here: `kpi_label` and `label` read them in the chosen language."""

from __future__ import annotations

from typing import Any

import streamlit as st

from b2bmetrics.registry import Lang, column_label, kpi, value_label

LANG_KEY = "lang"
# The widget's options are the labels themselves: a bound widget writes its option's label into
# the URL, so `?lang=中文` is what a shared link carries.
LANGS: dict[str, Lang] = {"English": "en", "中文": "zh"}

TEXTS: dict[str, tuple[str, str]] = {
    "page_overview": ("Overview", "总览"),
    "page_funnel": ("Funnel", "销售漏斗"),
    "page_forecast": ("Forecast", "销售预测"),
    "page_churn": ("Churn & retention", "流失与留存"),
    "page_satisfaction": ("Satisfaction & service", "满意度与服务"),
    "page_commission": ("Commission", "佣金"),
    "page_cash": ("Cash", "回款"),
    "page_data": ("Data", "数据"),
    "page_accounts": ("Accounts", "客户"),
    "filters": ("Filters", "筛选"),
    "period": ("Period", "期间"),
    "region": ("Region", "区域"),
    "segment": ("Segment", "客户类型"),
    "rep": ("Rep", "销售"),
    "reset": ("Reset filters", "重置筛选"),
    "all": ("All", "全部"),
    "share_hint": ("The URL holds these filters: copy it to share this view.",
                   "网址包含当前筛选条件，复制即可分享此视图。"),
    "vs_previous": ("vs previous {days} days", "较前{days}天"),
    "download_csv": ("Download CSV", "下载 CSV"),
    "no_data": ("No data loaded yet. Load CRM exports on the Data page, or run `make run` for the demo.",
                "尚未加载数据。请在“数据”页上传 CRM 导出文件，或运行 `make run` 使用演示数据。"),
    "no_payments": ("No payments loaded yet. The Cash page reads the `payments` table: each signed order's "
                    "installments (due date, amount due) and what came in (paid at, amount paid). Load a payments "
                    "export on the Data page.",
                    "尚未加载回款数据。回款页读取 `payments` 表：每笔订单的回款计划（应收日期、应收金额）和实际回款"
                    "（回款日期、实收金额）。请在“数据”页上传回款导出文件。"),
    "empty_filter": ("Nothing matches these filters. Widen the period or clear a filter.",
                     "没有符合筛选条件的数据。请扩大期间或清除筛选。"),
    "local_mode": ("Single-user local mode: no sign-in is configured.", "本地单用户模式：未配置登录。"),
    "database": ("Database", "数据库"),
    "small_sample": ("fewer than 30 responses: read with care", "样本少于30：仅供参考"),
    "open_page": ("Open {page}", "打开{page}"),
    "monthly_trends": ("Monthly trends", "月度趋势"),
    "by_region": ("By region", "按区域"),
    "error_title": ("Something in the data stopped this view", "数据问题导致此视图无法显示"),
    "sign_in_title": ("Sign in", "登录"),
    "sign_in_text": ("This dashboard shows each person the data their role allows. Sign in to continue.",
                     "本看板按角色显示数据。请登录后继续。"),
    "sign_in": ("Sign in", "登录"),
    "sign_in_failed": ("Sign-in could not start", "无法发起登录"),
    "sign_out": ("Sign out", "退出登录"),
    "signed_in_as": ("Signed in as {email} · {role}", "已登录：{email} · {role}"),
    "no_access_title": ("No access yet", "尚无访问权限"),
    "no_access": ("{email} is signed in but has no role in this dashboard. Ask an administrator to add "
                  "you to the roles file.",
                  "{email} 已登录，但在本看板中没有角色。请联系管理员将您加入角色文件。"),
    "access_setup_title": ("Access is not set up correctly", "访问权限配置有误"),
    "data_page_refused": ("The Data page is for analysts and executives: loading replaces data for everyone.",
                          "“数据”页仅供分析师和高管使用：加载数据会替换所有人的数据。"),
    "role_executive": ("executive", "高管"),
    "role_analyst": ("analyst", "分析师"),
    "role_manager": ("manager of {regions}", "{regions} 经理"),
    "role_rep": ("rep {rep_id}", "销售 {rep_id}"),
}


def lang() -> Lang:
    return LANGS.get(st.session_state.get(LANG_KEY) or "English", "en")


def t(key: str, **fmt: object) -> str:
    """The UI text `key` in the current language."""
    en, zh = TEXTS[key]
    text = zh if lang() == "zh" else en
    return text.format(**fmt) if fmt else text


def kpi_label(key: str) -> str:
    """The label of KPI `key` ("family.name") in the current language."""
    return kpi(key).label.of(lang())


def label(name: str) -> str:
    """The header of table column `name` in the current language (see `registry.column`)."""
    return column_label(name, lang())


def pick(en: str, zh: str) -> str:
    """Inline two-language text for a page's own one-off labels."""
    return zh if lang() == "zh" else en



def words(column_name: str, value: Any) -> str:
    """Code `value` of column `column_name` (a role, a status, a channel…) in words; "—" for none."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return str(value_label(column_name, value, lang()))
