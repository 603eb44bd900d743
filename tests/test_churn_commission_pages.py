"""The churn page's MRR bridge and the commission page's basis through Streamlit's AppTest: hand-computed
figures on tiny datasets, the same figures as `b2bmetrics kpis --format json`, the accounts behind a
bar, and booked against collected commission side by side, in English and 中文.

Churn: the pages' two-region dataset (tests/pages_fixtures.py) with its contracts replaced, looked at
from 2024-01-01 to 2024-03-31 (MRR on Jan 1 against Mar 31, every account):

| account | region | contracts                                   | p (Jan 1) | c (Mar 31) | movement             | month |
|---------|--------|---------------------------------------------|----------:|-----------:|----------------------|-------|
| A1      | 东区   | 10 from 2023-06-01; + 15 from 2024-02-15    | 10        | 25         | expansion 15         | Feb   |
| A2      | 西区   | 30 from 2023-06-01 to 2024-03-10            | 30        | 0          | churn 30             | Mar   |
| A3      | 东区   | 20 from 2024-01-20                          | 0         | 20         | new 20               | Jan   |
| A4      | 西区   | 40 2023-05-01 → 2023-10-01; 25 from 02-05   | 0         | 25         | reactivation 25      | Feb   |
| A5      | 东区   | 50 from 2023-01-01 to 02-01; 35 from 02-01  | 50        | 35         | contraction 15       | Feb   |

mrr_start = 10 + 30 + 50 = 90; mrr_end = 25 + 20 + 25 + 35 = 105; net new = 15 = 20 + 25 + 15 − 15 − 30;
quick ratio = (20 + 25 + 15) / (15 + 30) = 1.33; ARPA = 105 / 4 = 26.25.

Commission: the same dataset with the Cash page's payments (tests/test_cash_page.py), from 2024-01-01
to 2024-06-30 (Q1 and Q2), default plan (quota 0: every amount at the last band's 12 %).
Booked: R1 D1 100 closed 02-09 → 12; R2 D3 300 closed 03-12 → 36; total 48.
Collected: R1 D1's payments P1 100 on 03-05 (Q1) → 12 and P2 20 on 06-10 (Q2) → 2.40; R2 D3's P3 200
came on 07-05 (Q3, outside) and P4 is unpaid → 0; P5 has no deal; total 14.40.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from b2bmetrics.cli import main
from b2bmetrics.registry import KPI_BY_KEY, Lang, format_value
from tests.conftest import ROOT, write_db
from tests.pages_fixtures import fixture_rows

d = dt.date
CHURN_FROM, CHURN_TO = d(2024, 1, 1), d(2024, 3, 31)
COMM_FROM, COMM_TO = d(2024, 1, 1), d(2024, 6, 30)


def k(cid: str, acc: str, start: dt.date, end: dt.date | None, mrr: float) -> dict[str, Any]:
    return {"contract_id": cid, "account_id": acc, "start_date": start, "end_date": end, "mrr": mrr}


def churn_rows() -> dict[str, list[dict[str, Any]]]:
    rows = fixture_rows()
    rows["accounts"] = [*rows["accounts"],
                        {"account_id": "A3", "account_name": "丙公司", "region": "东区", "segment": "小型企业",
                         "owner_rep_id": "R1"},
                        {"account_id": "A4", "account_name": "丁公司", "region": "西区", "segment": "小型企业",
                         "owner_rep_id": "R2"},
                        {"account_id": "A5", "account_name": "戊公司", "region": "东区", "segment": "大型企业",
                         "owner_rep_id": "R1"}]
    rows["contracts"] = [
        k("C1", "A1", d(2023, 6, 1), None, 10), k("C1b", "A1", d(2024, 2, 15), None, 15),
        k("C2", "A2", d(2023, 6, 1), d(2024, 3, 10), 30),
        k("C3", "A3", d(2024, 1, 20), None, 20),
        k("C4a", "A4", d(2023, 5, 1), d(2023, 10, 1), 40), k("C4b", "A4", d(2024, 2, 5), None, 25),
        k("C5a", "A5", d(2023, 1, 1), d(2024, 2, 1), 50), k("C5b", "A5", d(2024, 2, 1), None, 35),
    ]
    return rows


PAYMENTS: list[dict[str, Any]] = [  # the Cash page's six payments
    {"payment_id": "P1", "account_id": "A1", "deal_id": "D1", "due_date": d(2024, 3, 1), "amount_due": 100,
     "paid_at": dt.datetime(2024, 3, 5, 10), "amount_paid": 100, "rep_id": "R1"},
    {"payment_id": "P2", "account_id": "A1", "deal_id": "D1", "due_date": d(2024, 5, 31), "amount_due": 60,
     "paid_at": dt.datetime(2024, 6, 10, 9), "amount_paid": 20, "rep_id": "R1"},
    {"payment_id": "P3", "account_id": "A2", "deal_id": "D3", "due_date": d(2024, 5, 30), "amount_due": 200,
     "paid_at": dt.datetime(2024, 7, 5, 9), "amount_paid": 200, "rep_id": "R2"},
    {"payment_id": "P4", "account_id": "A2", "deal_id": "D3", "due_date": d(2023, 12, 1), "amount_due": 50},
    {"payment_id": "P5", "account_id": "A2", "paid_at": dt.datetime(2024, 4, 10, 15), "amount_paid": 30},
    {"payment_id": "P6", "account_id": "A1", "deal_id": "D1", "due_date": d(2024, 6, 30), "amount_due": 10},
]


@pytest.fixture(scope="module")
def churn_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("churn") / "churn.duckdb", churn_rows())


def _commission_db(tmp_path_factory: pytest.TempPathFactory, basis: str) -> Path:
    folder = tmp_path_factory.mktemp(f"comm_{basis}")
    (folder / "b2bmetrics.toml").write_text(f'[commission]\nbasis = "{basis}"\n', encoding="utf-8")
    return write_db(folder / "comm.duckdb", {**fixture_rows(), "payments": PAYMENTS})


@pytest.fixture(scope="module")
def booked_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _commission_db(tmp_path_factory, "booked")


@pytest.fixture(scope="module")
def collected_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _commission_db(tmp_path_factory, "collected")


def _app(db: Path, page: str, monkeypatch: pytest.MonkeyPatch, start: dt.date, end: dt.date, *,
         lang: str = "English") -> AppTest:
    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params["lang"] = lang
    at.query_params["period"] = [start.isoformat(), end.isoformat()]
    at.run()
    at.switch_page(page).run()
    _no_errors(at)
    return at


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _tables_with(at: AppTest, column: str) -> list[Any]:
    """The dataframes (elements) having `column`: the movers table has `movement`, the basis
    comparison `payout_booked`."""
    return [df for df in at.dataframe if column in df.value.columns]


def _table(at: AppTest, column: str) -> pd.DataFrame:
    found = _tables_with(at, column)
    assert len(found) == 1, [list(df.value.columns) for df in at.dataframe]
    return found[0].value


def _chart(at: AppTest, key: str) -> dict[str, Any]:
    found = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    assert len(found) == 1, [c.proto.id for c in at.get("plotly_chart")]
    return found[0]


def _values(arr: Any) -> list[Any]:
    """A plotly array as a (nested) list: plotly writes numeric arrays as base64 `bdata` of a numpy dtype."""
    if isinstance(arr, dict) and "bdata" in arr:
        import base64

        import numpy as np

        flat = np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"])
        shape = arr.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return (flat.reshape(shape) if shape else flat).tolist()
    return [_values(a) if isinstance(a, dict | list) else a for a in arr]


def _kpis(db: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["kpis", "--db", str(db), "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out, parse_float=Decimal)


def _tile_text(kpis: dict[str, Any], key: str, lang: Lang = "en") -> tuple[str, str]:
    k = KPI_BY_KEY[key]
    value = kpis[k.family][k.name]
    return k.label.of(lang), format_value(float(value) if value is not None else None, k.format, lang, compact=True)


BRIDGE_TILES = ["mrr_movements.net_new_mrr", "mrr_movements.quick_ratio", "mrr_movements.arpa"]
STEPS = ["mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end"]


# ---- churn: the bridge --------------------------------------------------------------------------


def test_the_bridge_is_the_hand_computed_movements_and_the_kpis_json(churn_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    at = _app(churn_db, "app_pages/churn.py", monkeypatch, CHURN_FROM, CHURN_TO)
    shown = _tiles(at)
    assert (shown["Net new MRR"], shown["Quick ratio"], shown["ARPA"]) == ("¥15", "1.33", "¥26")  # 15; 60/45; 105/4
    everything = _kpis(churn_db, capsys, "--from", str(CHURN_FROM), "--to", str(CHURN_TO))
    assert all(shown[label] == value for label, value in (_tile_text(everything, key) for key in BRIDGE_TILES))
    bars = _chart(at, "churn_bridge")["data"][0]
    assert bars["type"] == "waterfall" and bars["measure"] == ["absolute", *["relative"] * 5, "total"]
    # start 90, new 20, reactivation 25, expansion 15, contraction −15, churn −30, end 105
    assert _values(bars["y"]) == [90, 20, 25, 15, -15, -30, 105]
    moves = everything["mrr_movements"]
    assert [abs(Decimal(repr(v))) for v in _values(bars["y"])] == [moves[s] for s in STEPS]

    at.multiselect(key="region").select("东区").run()  # A1, A3, A5
    _no_errors(at)
    east = _kpis(churn_db, capsys, "--from", str(CHURN_FROM), "--to", str(CHURN_TO), "--region", "东区")
    bars = _chart(at, "churn_bridge")["data"][0]
    assert _values(bars["y"]) == [60, 20, 0, 15, -15, 0, 80]  # 10 + 50; A3 new; A1 +15; A5 −15; 25 + 20 + 35
    assert [abs(Decimal(repr(v))) for v in _values(bars["y"])] == [east["mrr_movements"][s] for s in STEPS]
    shown = _tiles(at)
    assert shown["Quick ratio"] == "2.33"  # (20 + 15) / 15
    assert all(shown[label] == value for label, value in (_tile_text(east, key) for key in BRIDGE_TILES))


def test_the_months_stack_the_movements(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(churn_db, "app_pages/churn.py", monkeypatch, CHURN_FROM, CHURN_TO)
    traces = _chart(at, "churn_moves")["data"]
    by_name = {t["name"]: _values(t["y"]) for t in traces}
    # Jan: A3 new 20; Feb: A4 back 25, A1 +15, A5 −15; Mar: A2 −30
    assert by_name == {"New": [20, 0, 0], "Reactivation": [0, 25, 0], "Expansion": [0, 15, 0],
                       "Contraction": [0, -15, 0], "Churn": [0, 0, -30], "Net new MRR": [20, 25, -30]}
    assert sum(by_name["Net new MRR"]) == 15  # the bridge's net new MRR


def _movers(at: AppTest) -> pd.DataFrame:
    return _table(at, "movement")


def test_the_accounts_behind_a_bar(churn_db: Path, monkeypatch: pytest.MonkeyPatch,
                                   downloads: dict[str, Any]) -> None:
    at = _app(churn_db, "app_pages/churn.py", monkeypatch, CHURN_FROM, CHURN_TO)
    assert not _tables_with(at, "movement")  # nothing picked yet
    at.selectbox(key="churn_move").select_index(4).run()  # churn
    _no_errors(at)
    listed = _movers(at)
    assert listed[["account_id", "mrr_from", "mrr_to", "mrr_change"]].values.tolist() == [["A2", 30, 0, -30]]
    assert listed["movement"].tolist() == ["Churn"] and listed["account_name"].tolist() == ["乙公司"]
    assert any("1 accounts; Churn: ¥30" in c.value for c in at.caption)
    at.selectbox(key="churn_move").select_index(3).run()  # contraction
    assert _movers(at)["account_id"].tolist() == ["A5"]
    # February's bars: expansion A1, and (the month chosen) nothing churned in February
    at.selectbox(key="churn_move").select_index(2).run()
    at.selectbox(key="churn_move_month").select_index(1).run()  # 2024-02
    _no_errors(at)
    assert _movers(at)[["account_id", "mrr_change"]].values.tolist() == [["A1", 15]]
    csv = downloads["mrr_expansion_2024-02.csv"]()
    assert b"A1" in csv and b"A3" not in csv
    at.selectbox(key="churn_move").select_index(4).run()
    _no_errors(at)
    assert any("Nothing matches" in i.value for i in at.info)  # A2 churned in March, not February
    at.selectbox(key="churn_move_month").select_index(2).run()  # 2024-03
    assert _movers(at)["account_id"].tolist() == ["A2"]


def test_a_click_on_a_bar_picks_its_movement() -> None:
    from ui import churn_data

    # the waterfall's bars are start, the five movements, end; the months' traces are the five movements
    assert churn_data.movement_of_bridge_points([{"point_index": 5, "curve_number": 0}]) == "churn"
    assert churn_data.movement_of_bridge_points([{"point_index": 0}]) is None  # the start bar
    assert churn_data.movement_of_bridge_points([{"point_index": 6}]) is None  # the end bar
    months = [d(2024, 1, 1), d(2024, 2, 1), d(2024, 3, 1)]
    assert churn_data.pick_of_month_points([{"curve_number": 1, "point_index": 1}], months) == (
        "reactivation", d(2024, 2, 1))
    assert churn_data.pick_of_month_points([{"curve_number": 5, "point_index": 1}], months) is None  # the net line
    assert churn_data.pick_of_month_points([], months) is None


def test_revenue_retention_beside_the_logo_cohorts(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(churn_db, "app_pages/churn.py", monkeypatch, CHURN_FROM, CHURN_TO)
    logos = _chart(at, "churn_cohorts")["data"][0]
    nrr = _chart(at, "churn_cohorts_nrr")["data"][0]
    # one cohort in the period: A3 (first contract Jan 20, 20 a month, still there): 100 % at +0, +1, +2
    assert nrr["y"] == logos["y"] == ["2024-01 (n=1)"]
    assert _values(nrr["z"]) == [[1.0, 1.0, 1.0]] and _values(logos["z"]) == [[1.0, 1.0, 1.0]]


def test_the_churn_page_in_chinese(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(churn_db, "app_pages/churn.py", monkeypatch, CHURN_FROM, CHURN_TO, lang="中文")
    shown = _tiles(at)
    assert (shown["净新增MRR"], shown["快速比率"], shown["客户平均MRR"]) == ("¥15", "1.33", "¥26")
    traces = _chart(at, "churn_moves")["data"]
    assert [t["name"] for t in traces] == ["新增", "回流", "扩展", "收缩", "流失", "净新增MRR"]
    assert _chart(at, "churn_bridge")["data"][0]["x"] == ["期初MRR", "新增", "回流", "扩展", "收缩", "流失", "期末MRR"]
    at.selectbox(key="churn_move").select_index(0).run()  # new
    _no_errors(at)
    table = _tables_with(at, "movement")[0]
    headers = {n: s.get("label") for n, s in json.loads(table.proto.columns).items() if n != "_index"}
    assert headers == {"account_id": "客户编号", "account_name": "客户名称", "movement": "变动类型",
                       "mrr_from": "首日MRR", "mrr_to": "末日MRR", "mrr_change": "MRR变化"}
    assert table.value["account_id"].tolist() == ["A3"] and table.value["movement"].tolist() == ["新增"]


# ---- commission: the basis -------------------------------------------------------------------------


def _payouts_by_person(kpis: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for row in kpis["commission"]["rows"]:
        out[row["rep_id"]] = out.get(row["rep_id"], Decimal(0)) + row["payout"]
    return out


def _comparison(at: AppTest) -> pd.DataFrame:
    return _table(at, "payout_booked").set_index("rep_id")


@pytest.mark.parametrize("basis", ["booked", "collected"])
def test_booked_and_collected_side_by_side(basis: str, request: pytest.FixtureRequest,
                                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    db = request.getfixturevalue(f"{basis}_db")
    at = _app(db, "app_pages/commission.py", monkeypatch, COMM_FROM, COMM_TO)
    assert any(f"Basis: {basis.capitalize()}" in m.value for m in at.markdown)
    shown = _tiles(at)
    assert shown["Commission payout"] == ("¥48" if basis == "booked" else "¥14")  # 12 + 36; 12 + 2.40
    assert shown["Payout, booked basis"] == "¥48" and shown["Payout, collected basis"] == "¥14"
    assert shown["Difference (collected − booked)"] == "-¥34"  # 14.40 − 48 = −33.60
    table = _comparison(at)
    # R2: 36 booked, nothing collected in Q1–Q2 (P3 came in July); R1: 12 booked, 12 + 2.40 collected
    assert table[["payout_booked", "payout_collected", "difference"]].values.tolist() == [[36, 0, -36],
                                                                                         [12, 14.4, 2.4]]
    assert table["name"].tolist() == ["李娜", "王伟"]
    span = ("--from", str(COMM_FROM), "--to", str(COMM_TO))
    configs = {}
    for name in ("booked", "collected"):  # the kpis JSON of each basis
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(f'[commission]\nbasis = "{name}"\n', encoding="utf-8")
        configs[name] = _kpis(db, capsys, *span, "--config", str(cfg))
    for name in ("booked", "collected"):
        per = _payouts_by_person(configs[name])  # a person with nothing on a basis has no row there: 0
        assert set(per) <= set(table.index)
        assert {r: Decimal(repr(v)) for r, v in table[f"payout_{name}"].items()} == {
            r: per.get(r, Decimal(0)) for r in table.index}, name
    assert configs["booked"]["commission"]["total_payout"] == Decimal("48.00")
    assert configs["collected"]["commission"]["total_payout"] == Decimal("14.40")


def test_on_the_collected_basis_a_statement_line_is_a_payment(collected_db: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(collected_db, "app_pages/commission.py", monkeypatch, COMM_FROM, COMM_TO)
    at.selectbox(key="comm_person").set_value("R1").run()
    at.selectbox(key="comm_period").set_value(d(2024, 4, 1)).run()
    _no_errors(at)
    statement = [df.value for df in at.dataframe if list(df.value.columns)[:1] == ["line"]][0]
    assert list(statement.columns) == ["line", "deal_id", "payment_id", "account_name", "paid_at", "amount", "share",
                                       "credited", "rate", "commission", "referral"]
    # Q2: P2's 20 paid on 06-10, wholly R1's (no splits), at 12 %: 2.40
    assert statement["payment_id"].tolist() == ["P2"] and statement["deal_id"].tolist() == ["D1"]
    assert [float(v) for v in statement["amount"]] == [20.0] and [float(v) for v in statement["commission"]] == [2.4]
    assert statement["rate"].tolist() == pytest.approx([0.12])
    assert str(pd.Timestamp(statement["paid_at"].iloc[0]).date()) == "2024-06-10"
    assert any("No clawbacks on the collected basis" in i.value for i in at.info)


def test_the_commission_page_in_chinese(collected_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(collected_db, "app_pages/commission.py", monkeypatch, COMM_FROM, COMM_TO, lang="中文")
    assert any("口径: 回款口径" in m.value for m in at.markdown)
    shown = _tiles(at)
    assert (shown["签约口径应发"], shown["回款口径应发"], shown["差额（回款 − 签约）"]) == ("¥48", "¥14", "-¥34")
    table = _tables_with(at, "payout_booked")[0]
    headers = {n: s.get("label") for n, s in json.loads(table.proto.columns).items() if n != "_index"}
    assert headers["payout_booked"] == "签约口径应发" and headers["payout_collected"] == "回款口径应发"
    assert headers["difference"] == "差额" and headers["name"] == "姓名"


def test_above_the_threshold_the_accounts_at_risk_are_scored_on_request(churn_db: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import churn_data

    monkeypatch.setattr(churn_data, "AUTO_AT_RISK", 4)  # the fixture has 5 accounts
    at = _app(churn_db, "app_pages/churn.py", monkeypatch, CHURN_FROM, CHURN_TO)
    assert not _tables_with(at, "health_score")
    assert any("Above 4 accounts the scores are computed on request" in c.value for c in at.caption)
    at.toggle(key="churn_at_risk_show").set_value(True).run()
    _no_errors(at)
    assert len(_tables_with(at, "health_score")) == 1
