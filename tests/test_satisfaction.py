"""Golden tests for metrics/satisfaction.py on a fixture small enough to compute by hand."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

import pytest

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics import satisfaction as sat
from tests.conftest import make_db

D = dt.datetime
Z = 1.959964
Q2 = Period(dt.date(2024, 4, 1), dt.date(2024, 6, 30), True)
CFG = Config()


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p, z2 = k / n, Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


MAY_10 = D(2024, 5, 10)


def survey(rid: str, acc: str, kind: str, score: float, when: dt.datetime = MAY_10, **kw: Any) -> dict[str, Any]:
    return {"response_id": rid, "account_id": acc, "kind": kind, "score": score, "submitted_at": when, **kw}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "R1", "region": "north"}, {"rep_id": "R2", "region": "south"}],
    "accounts": [
        {"account_id": "A", "region": "east", "segment": "smb", "owner_rep_id": "R1"},
        {"account_id": "B", "region": "west", "segment": "ent", "owner_rep_id": "R2"},
        {"account_id": "C", "region": "east", "segment": "ent", "owner_rep_id": "R2"},
    ],
    "tickets": [
        # answered in exactly 24 h: within a 24 h SLA (≤)
        {"ticket_id": "T1", "account_id": "A", "opened_at": D(2024, 4, 1, 8), "first_response_at": D(2024, 4, 2, 8),
         "channel": "phone"},
        {"ticket_id": "T2", "account_id": "A", "opened_at": D(2024, 4, 10, 10),
         "first_response_at": D(2024, 4, 10, 10, 30), "channel": "online"},  # 0.5 h
        # one second late: 24.000277… h, not met
        {"ticket_id": "T3", "account_id": "B", "opened_at": D(2024, 5, 1), "first_response_at": D(2024, 5, 2, 0, 0, 1),
         "channel": "online"},
        {"ticket_id": "T4", "account_id": "B", "opened_at": D(2024, 5, 5), "channel": "phone"},  # unanswered
        # opened on the last evening of the period, answered after it: counts (2 h)
        {"ticket_id": "T5", "account_id": "C", "opened_at": D(2024, 6, 30, 23), "first_response_at": D(2024, 7, 1, 1),
         "channel": "wechat"},
        {"ticket_id": "T6", "account_id": "C", "opened_at": D(2024, 7, 1), "first_response_at": D(2024, 7, 1, 1)},
    ],
    "surveys": [
        survey("S1", "A", "csat", 5, D(2024, 4, 20), rep_id="R9"),
        survey("S2", "A", "csat", 4),
        survey("S3", "A", "csat", 3, ticket_id="T1"),
        survey("S4", "B", "csat", 2, ticket_id="T3"),
        survey("S5", "B", "csat", 5),
        survey("S6", "A", "csat", 1, D(2024, 7, 1)),  # the day after the period
        survey("S7", "A", "csat", 1, D(2024, 3, 31, 23, 59)),  # the evening before it
        survey("N1", "A", "nps", 10),
        survey("N2", "B", "nps", 10),
        survey("N3", "C", "nps", 9),
        survey("N4", "C", "nps", 7),
        survey("N5", "B", "nps", 3),
        survey("E1", "A", "ces", 2),
        survey("E2", "B", "ces", 3),
        survey("E3", "C", "ces", 7),
    ],
}
TICKET_HOURS = {"T1": 24.0, "T2": 0.5, "T3": 24 + 1 / 3600, "T5": 2.0}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def test_summary_golden(con: Any) -> None:
    got = sat.summary(con, CFG, Filters(), Q2)
    # csat: S1..S5 in the period, ≥ 4: S1 (5), S2 (4), S5 (5) -> 3 / 5
    assert got["csat"] == pytest.approx(0.6)
    assert got["csat_responses"] == 5
    # Wilson 3/5, z = 1.959964: centre (0.6 + 3.841459/10) / 1.768292 = 0.556551,
    # half 1.959964·sqrt(0.048 + 0.038415) / 1.768292 = 0.325827 -> [0.230724, 0.882379]
    assert got["csat_ci"] == pytest.approx([0.230724, 0.882379], abs=1e-6)
    assert got["csat_ci"] == pytest.approx(list(wilson_by_hand(3, 5)), abs=1e-12)
    # nps: 10, 10, 9, 7, 3 -> p = 3/5 promoters, q = 1/5 detractors -> 100·(0.6 − 0.2) = 40
    assert got["nps"] == pytest.approx(40.0)
    assert got["nps_responses"] == 5
    # interval: 100·1.959964·sqrt((0.6 + 0.2 − 0.4²)/5) = 100·1.959964·0.357771 = 70.12180 (not clipped)
    assert got["nps_ci"] == pytest.approx([40 - 70.12180, 40 + 70.12180], abs=1e-4)
    # ces: (2 + 3 + 7) / 3
    assert got["ces"] == pytest.approx(4.0)
    # tickets T1..T5 (T6 opened after the period); answered T1, T2, T3, T5 -> hours 24, 0.5, 24.00028, 2
    assert got["tickets"] == 5
    # median of 0.5, 2, 24, 24.00028 = (2 + 24) / 2
    assert got["median_first_response_hours"] == pytest.approx(13.0)
    # met: T1 (exactly 24 h), T2, T5; T3 is a second late, T4 unanswered -> 3 / 5
    assert got["sla_met_rate"] == pytest.approx(0.6)


def test_summary_keys_follow_the_contract(con: Any) -> None:
    got = sat.summary(con, CFG, Filters(), Q2)
    assert list(got) == ["csat", "csat_ci", "csat_responses", "nps", "nps_ci", "nps_responses", "ces",
                         "median_first_response_hours", "sla_met_rate", "tickets"]
    assert isinstance(got["csat_responses"], int) and isinstance(got["tickets"], int)


def test_empty_period_gives_nulls_and_zero_counts(con: Any) -> None:
    got = sat.summary(con, CFG, Filters(), Period(dt.date(2030, 1, 1), dt.date(2030, 3, 31), True))
    assert got == {"csat": None, "csat_ci": [None, None], "csat_responses": 0, "nps": None,
                   "nps_ci": [None, None], "nps_responses": 0, "ces": None,
                   "median_first_response_hours": None, "sla_met_rate": None, "tickets": 0}


def test_no_data_at_all() -> None:
    got = sat.summary(make_db({}), CFG, Filters(), Period(None, None, False))
    assert got["csat_ci"] == [None, None] and got["tickets"] == 0 and got["sla_met_rate"] is None


def test_tickets_without_surveys_divide_by_zero_to_none() -> None:
    con = make_db({"tickets": [{"ticket_id": "T", "account_id": "A", "opened_at": D(2024, 5, 1)}]})
    got = sat.summary(con, CFG, Filters(), Q2)
    # one unanswered ticket: rate 0 / 1 = 0 (defined), median over no answered ticket: None
    assert got["tickets"] == 1 and got["sla_met_rate"] == 0.0
    assert got["median_first_response_hours"] is None
    assert got["csat"] is None and got["nps"] is None and got["ces"] is None


def test_sla_hours_come_from_config(con: Any) -> None:
    got = sat.summary(con, replace(CFG, first_response_sla_hours=1.0), Filters(), Q2)
    # within 1 h: T2 only -> 1 / 5
    assert got["sla_met_rate"] == pytest.approx(0.2)


def test_filter_region(con: Any) -> None:
    got = sat.summary(con, CFG, Filters(regions=("east",)), Q2)
    # accounts A, C. csat A: 5, 4, 3 -> 2/3; nps A 10, C 9, C 7 -> p = 2/3, q = 0 -> 66.67
    assert got["csat"] == pytest.approx(2 / 3) and got["csat_responses"] == 3
    assert got["csat_ci"] == pytest.approx(list(wilson_by_hand(2, 3)))
    assert got["nps"] == pytest.approx(200 / 3)
    assert got["ces"] == pytest.approx(4.5)  # (2 + 7) / 2
    # tickets T1, T2, T5: hours 24, 0.5, 2 -> median 2, all met
    assert got["tickets"] == 3
    assert got["median_first_response_hours"] == pytest.approx(2.0)
    assert got["sla_met_rate"] == pytest.approx(1.0)


def test_filter_segment(con: Any) -> None:
    got = sat.summary(con, CFG, Filters(segments=("ent",)), Q2)
    # accounts B, C. csat B: 2, 5 -> 1/2; nps 10, 9, 7, 3 -> (2 − 1) / 4 -> 25
    assert got["csat"] == pytest.approx(0.5) and got["nps"] == pytest.approx(25.0)
    # tickets T3, T4, T5: answered 24.00028, 2 -> median 13.00014; met T5 only -> 1/3
    assert got["tickets"] == 3
    assert got["median_first_response_hours"] == pytest.approx((2 + 24 + 1 / 3600) / 2)
    assert got["sla_met_rate"] == pytest.approx(1 / 3)


def test_filter_rep_selects_the_accounts_it_owns(con: Any) -> None:
    got = sat.summary(con, CFG, Filters(reps=("R1",)), Q2)
    # R1 owns A: csat S1, S2, S3 -> 2/3 (S1's own rep_id R9 does not matter for the filter)
    assert got["csat"] == pytest.approx(2 / 3) and got["tickets"] == 2
    assert got["nps"] == pytest.approx(100.0) and got["nps_ci"] == pytest.approx([100.0, 100.0])


def test_filter_region_of_rep(con: Any) -> None:
    cfg = replace(CFG, region_of="rep")
    # south = R2 = owner of B and C: the same rows as segment "ent"
    assert sat.summary(con, cfg, Filters(regions=("south",)), Q2) == sat.summary(
        con, CFG, Filters(segments=("ent",)), Q2)


def test_wilson_and_nps_interval_helpers() -> None:
    assert sat.wilson_interval(0, 0) == (None, None)
    lo, hi = sat.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(wilson_by_hand(0, 10)[1])
    assert sat.wilson_interval(10, 10)[1] == 1.0  # exactly, not 0.9999…
    # p = q = 0.4, n = 5: 100·z·sqrt(0.8/5) = 100·1.959964·0.4 = 78.39856
    assert sat.nps_interval(2, 2, 5) == pytest.approx((-78.39856, 78.39856))
    assert sat.nps_interval(0, 0, 0) == (None, None)


def by(con: Any, key: sat.GroupBy, cfg: Config = CFG) -> dict[Any, dict[str, Any]]:
    df = sat.by_group(con, cfg, Filters(), Q2, key)
    return {(None if r[key] != r[key] else r[key]): r for r in df.to_dict("records")}


def test_by_channel(con: Any) -> None:
    g = by(con, "channel")
    assert set(g) == {"phone", "online", "wechat", None}
    # phone: tickets T1 (24 h), T4 (unanswered); survey S3 names T1 (score 3)
    assert g["phone"]["tickets"] == 2 and g["phone"]["sla_met_rate"] == pytest.approx(0.5)
    assert g["phone"]["median_first_response_hours"] == pytest.approx(24.0)
    assert g["phone"]["csat"] == 0.0 and g["phone"]["csat_n"] == 1
    # online: T2 0.5 h, T3 24.00028 h -> median 12.25014, met 1/2; S4 names T3 (score 2)
    assert g["online"]["median_first_response_hours"] == pytest.approx((0.5 + 24 + 1 / 3600) / 2)
    assert g["online"]["csat_n"] == 1
    # surveys naming no ticket: S1, S2, S5 -> 3/3; all NPS and CES; no tickets -> SLA undefined
    assert g[None]["csat"] == 1.0 and g[None]["nps_n"] == 5 and g[None]["tickets"] == 0
    assert g[None]["sla_met_rate"] is None or math.isnan(g[None]["sla_met_rate"])


def test_by_rep_prefers_the_survey_rep(con: Any) -> None:
    g = by(con, "rep")
    # S1 names R9; S2, S3 fall to A's owner R1 -> 1/2; tickets follow the account owner
    assert g["R9"]["csat"] == 1.0 and g["R9"]["tickets"] == 0
    assert g["R1"]["csat"] == pytest.approx(0.5) and g["R1"]["tickets"] == 2
    # R2 owns B and C: csat S4, S5 -> 1/2; tickets T3, T4, T5
    assert g["R2"]["csat"] == pytest.approx(0.5) and g["R2"]["tickets"] == 3


def test_by_region_segment_month(con: Any) -> None:
    region = by(con, "region")
    assert region["east"]["tickets"] == 3 and region["west"]["tickets"] == 2
    assert region["east"]["csat"] == pytest.approx(2 / 3)
    owner_region = by(con, "region", replace(CFG, region_of="rep"))
    assert set(owner_region) == {"north", "south"} and owner_region["north"]["tickets"] == 2
    seg = by(con, "segment")
    assert seg["ent"]["nps"] == pytest.approx(25.0)
    month = by(con, "month")
    assert [str(k) for k in month] == ["2024-04-01", "2024-05-01", "2024-06-01"]
    # April: S1 (csat 5), tickets T1, T2; June: T5 only
    assert month[dt.date(2024, 4, 1)]["csat_n"] == 1 and month[dt.date(2024, 4, 1)]["tickets"] == 2
    assert month[dt.date(2024, 6, 1)]["tickets"] == 1


def test_small_sample_flag() -> None:
    rows = {"accounts": [{"account_id": "A", "region": "big"}, {"account_id": "B", "region": "tiny"}],
            "surveys": [survey(f"S{i}", "A", "csat", 5) for i in range(30)] + [survey("X", "B", "csat", 1)]}
    g = by(make_db(rows), "region")
    # 30 answers is enough; 1 is not
    assert g["big"]["small_sample"] is False or not g["big"]["small_sample"]
    assert g["big"]["csat_n"] == 30
    assert g["tiny"]["small_sample"] and g["tiny"]["csat_small"]


def test_by_group_rejects_unknown_key(con: Any) -> None:
    with pytest.raises(ValueError):
        sat.by_group(con, CFG, Filters(), Q2, "colour")  # type: ignore[arg-type]


def test_response_times_histogram(con: Any) -> None:
    df = sat.response_times(con, CFG, Filters(), Q2)
    # width 24/4 = 6 h, bins (0, 6], (6, 12], …: T1 24 h -> bin 3 (18, 24], within the SLA;
    # T3 24.00028 h -> bin 4 (24, 30]; T2 0.5 h and T5 2 h -> bin 0
    got = {(r["channel"], r["bin"]): r for r in df.to_dict("records")}
    assert got[("phone", 3)]["tickets"] == 1 and got[("phone", 3)]["within_sla"]
    assert got[("online", 4)]["tickets"] == 1 and not got[("online", 4)]["within_sla"]
    assert got[("online", 0)]["tickets"] == 1 and got[("wechat", 0)]["tickets"] == 1
    assert int(df["tickets"].sum()) == 4  # the unanswered T4 is not in the histogram
    assert df.attrs["sla_hours"] == 24.0
    assert got[("phone", 3)]["bin_start"] == 18.0 and got[("phone", 3)]["bin_end"] == 24.0
