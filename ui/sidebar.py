"""The shared sidebar: language, period, region, segment and rep, bound to the URL; who is signed in.

The widgets live in `dashboard.py`'s run, so they keep their values across pages; each is bound
to a query parameter, so a copied link opens the same view. One button resets them all. The
options come from the user's scope, so they list only regions, segments and people the user may
see (a value outside them, from a URL, still matches nothing: the scope is in the data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.access import Scope
from b2bmetrics.backend import Backend
from b2bmetrics.filters import Filters, data_dates, twelve_months_ending
from b2bmetrics.metrics.filtering import people_by_region, region_choices
from ui import context, data
from ui.i18n import LANG_KEY, LANGS, t

KEY_PERIOD, KEY_REGION, KEY_SEGMENT, KEY_REP = "period", "region", "segment", "rep"
FILTERS_STATE = "b2b_filters"


def _options(con: Backend) -> dict[str, Any]:
    # the region rule (`[filters] region_of`) decides which regions and whose people a filter offers:
    # one query each per data version, so a region change asks none
    region_of = context.config().region_of
    acc, reps = con.table("accounts"), con.table("reps")
    segments = acc.select(v=acc.segment).distinct().execute()["v"].dropna().tolist()
    people = reps.select("rep_id", "rep_name", "role").execute()
    lo, hi, as_of = data_dates(con)
    return {"regions": region_choices(con, region_of), "segments": sorted(segments), "reps": people,
            "range": (lo, hi), "as_of": as_of, "people_by_region": people_by_region(con, region_of)}


@st.cache_data(max_entries=data.READS, show_spinner=False)
def _cached_options(key: data.ViewKey, _view: data.View) -> dict[str, Any]:
    return _options(_view.con())


def options() -> dict[str, Any]:
    """Regions, segments, people and the date range of the data in the user's scope (cached per
    dataset version and scope)."""
    v = data.view()
    return _cached_options(v.key, v)


def default_period(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The CLI's default period (CONTRACT §5 v2): the 12 months ending on the latest day something
    happened (`options()["as_of"]`), what a Monday review looks at."""
    return twelve_months_ending(as_of)


def _period_filters(chosen: tuple[dt.date, ...], as_of: dt.date) -> Filters:
    """Filters of a chosen period; the default period is left open, as the CLI leaves it without
    --from/--to (so the first view is `kpis` with no dates, deals without a creation date included)."""
    if len(chosen) == 2 and (chosen[0], chosen[1]) != default_period(as_of):
        return Filters(chosen[0], chosen[1])
    if len(chosen) == 1:
        return Filters(chosen[0], chosen[0])
    return Filters()


def default_filters() -> Filters:
    """The filters of a first visit: the default period, nothing else chosen."""
    return Filters()


def _reset() -> None:
    opts = options()
    lo, hi = opts["range"]
    st.session_state[KEY_PERIOD] = default_period(opts["as_of"]) if lo and hi else ()
    for key in (KEY_REGION, KEY_SEGMENT, KEY_REP):
        st.session_state[key] = []


def render_language() -> None:
    # read before the choice is known, so the label carries both languages
    st.sidebar.segmented_control("Language / 语言", list(LANGS), default="English", key=LANG_KEY,
                                 bind="query-params", persist_state="session", required=True)


def render_filters() -> Filters:
    """Draw the filter widgets and return the Filters they describe."""
    opts = options()
    lo, hi = opts["range"]
    side = st.sidebar
    side.subheader(t("filters"))
    chosen: tuple[dt.date, ...] = ()
    if lo and hi:
        chosen = tuple(side.date_input(t("period"), value=default_period(opts["as_of"]), min_value=dt.date(1990, 1, 1),
                                       max_value=dt.date(2100, 12, 31), key=KEY_PERIOD, bind="query-params", persist_state="session",
                                       format="YYYY-MM-DD"))
    regions = side.multiselect(t("region"), opts["regions"], key=KEY_REGION, bind="query-params", persist_state="session",
                               placeholder=t("all"))
    segments = side.multiselect(t("segment"), opts["segments"], key=KEY_SEGMENT, bind="query-params", persist_state="session",
                                placeholder=t("all"))
    people: pd.DataFrame = opts["reps"]
    names = dict(zip(people["rep_id"], people["rep_name"].fillna(""), strict=True))
    choices = list(names)
    if regions:  # a dependent list, as a CRM's: the people of the chosen regions, and whoever is chosen
        keep = set().union(*(opts["people_by_region"].get(r, set()) for r in regions)) \
            | set(st.session_state.get(KEY_REP) or ()) | set(st.query_params.get_all(KEY_REP))
        choices = [r for r in choices if r in keep]
    reps = side.multiselect(t("rep"), choices, key=KEY_REP, bind="query-params", persist_state="session", placeholder=t("all"),
                            format_func=lambda r: f"{names.get(r) or r} ({r})" if names.get(r) else r)
    side.button(t("reset"), on_click=_reset, key="reset_filters", icon=":material/restart_alt:")
    side.caption(t("share_hint"))
    filters = replace(_period_filters(chosen, opts["as_of"]), regions=tuple(regions), segments=tuple(segments),
                      reps=tuple(reps))
    st.session_state[FILTERS_STATE] = filters
    return filters


def current() -> Filters:
    """The filters the sidebar set on this run (all data before the sidebar has run)."""
    value = st.session_state.get(FILTERS_STATE)
    return value if isinstance(value, Filters) else Filters()


def role_label(scope: Scope) -> str:
    if scope.role == "manager":
        return t("role_manager", regions=", ".join(scope.regions))
    if scope.role == "rep":
        return t("role_rep", rep_id=scope.rep_id)
    return t(f"role_{scope.role}")


def render_identity(scope: Scope) -> None:
    """The database, and who is signed in with which role (or that the app runs locally, single-user)."""
    side = st.sidebar
    where = f"{t('database')}: `{context.db_path().name}`"
    if not context.auth_configured():
        side.caption(f"{where} · {t('local_mode')}")
        return
    side.caption(f"{where} · {t('signed_in_as', email=context.user_email() or '?', role=role_label(scope))}")
    side.button(t("sign_out"), on_click=st.logout, key="auth_sign_out", icon=":material/logout:")
