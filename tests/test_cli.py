"""The CLI as CONTRACT §4 states it: demo, ingest, kpis (json and table), export, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from b2bmetrics.cli import main
from tests.conftest import SAMPLES

JSON_KEYS = {
    "funnel": {"stages", "overall_conversion", "win_rate", "won_deals", "won_amount", "avg_won_amount",
               "avg_sales_cycle_days", "open_deals", "pipeline_velocity_per_day"},
    "churn": {"active_accounts_start", "churned_accounts", "logo_churn_rate", "mrr_start", "mrr_end",
              "gross_revenue_retention", "net_revenue_retention"},
    "satisfaction": {"csat", "csat_ci", "csat_responses", "nps", "nps_ci", "nps_responses", "ces",
                     "median_first_response_hours", "sla_met_rate", "tickets"},
    "commission": {"total_payout", "rows"},
    "quality": {"tables"},
    # (v2)
    "bookings": {"won_deals", "won_amount", "lost_deals", "win_rate", "avg_won_amount"},
    "mrr_movements": {"mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end",
                      "net_new_mrr", "quick_ratio", "arpa"},
    "collection": {"due", "collected_against_due", "collection_rate", "collected", "overdue", "overdue_aging"},
    "targets": {"rows"},
    "forecast": {"closed_won", "commit", "best_case", "pipeline", "weighted", "stage_probabilities"},
    "pipeline_change": {"start_date", "end_date", "start", "created", "pulled_in", "increased", "decreased",
                        "pushed_out", "won", "lost", "end"},
}


def test_demo_writes_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.duckdb"
    assert main(["demo", "--db", str(db), "--accounts", "30", "--seed", "5"]) == 0
    assert "accounts 30" in capsys.readouterr().out
    assert main(["kpis", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["quality"]["tables"]["accounts"]["rows"] == 30


# the kpis and export tests read the session's demo database (tests/conftest.py `demo_db`)


def test_kpis_json_on_the_demo_has_every_contract_key(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--db", str(demo_db), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["period", *JSON_KEYS]  # the sections in CONTRACT §4's order
    for family, keys in JSON_KEYS.items():
        assert set(out[family]) == keys, family
    assert [s["stage"] for s in out["funnel"]["stages"]][0] == "lead"
    assert set(out["funnel"]["stages"][0]) == {"stage", "phase", "entered", "conversion_to_next",
                                                "median_days_in_stage"}
    row = out["commission"]["rows"][0]
    assert set(row) == {"rep_id", "period_start", "credited_revenue", "quota", "attainment", "commission",
                        "referral_commission", "clawback", "payout"}
    assert set(out["quality"]["tables"]["deals"]) == {"rows", "completeness", "orphans"}
    assert list(out["collection"]["overdue_aging"]) == ["1_30", "31_60", "61_90", "over_90"]
    assert set(out["targets"]["rows"][0]) == {"level", "key", "period", "period_start", "basis", "target", "actual",
                                              "attainment", "expected_to_date", "pace"}
    assert [s["stage"] for s in out["forecast"]["stage_probabilities"]][0] == "lead"
    assert 0 <= out["funnel"]["win_rate"] <= 1


def test_filters_narrow_the_numbers(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["kpis", "--db", str(demo_db), "--from", "2026-01-01", "--to", "2026-06-30", "--format", "json"])
    everyone = json.loads(capsys.readouterr().out)
    assert everyone["period"] == {"from": "2026-01-01", "to": "2026-06-30"}
    main(["kpis", "--db", str(demo_db), "--from", "2026-01-01", "--to", "2026-06-30", "--region", "华东",
          "--format", "json"])
    east = json.loads(capsys.readouterr().out)
    assert east["funnel"]["stages"][0]["entered"] < everyone["funnel"]["stages"][0]["entered"]


def test_kpis_table_is_readable_in_both_languages(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--db", str(demo_db), "--format", "table"]) == 0
    text = capsys.readouterr().out
    assert "Win rate" in text and "Net revenue retention" in text and "%" in text
    assert main(["kpis", "--db", str(demo_db), "--format", "table", "--lang", "zh"]) == 0
    assert "赢单率" in capsys.readouterr().out


def test_ingest_then_kpis_on_the_canonical_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    assert main(["ingest", "--db", str(db), *map(str, sorted((SAMPLES / "canonical").glob("*.csv")))]) == 0
    assert "120 rows loaded" in capsys.readouterr().out
    assert main(["kpis", "--db", str(db), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["quality"]["tables"]["deals"]["rows"] == 120


@pytest.mark.parametrize("args", [
    ["kpis", "--db", "x.duckdb", "--from", "next week"],
    ["kpis", "--db", "x.duckdb", "--from", "2024-05-01", "--to", "2024-01-01"],
    ["demo", "--db", "x.duckdb", "--accounts", "0"],
])
def test_bad_arguments_exit_2(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        code = main(args)
        raise SystemExit(code)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_missing_database_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_export_writes_every_table_as_parquet(demo_db: Path, tmp_path: Path) -> None:
    assert main(["export", "--db", str(demo_db), "--parquet", str(tmp_path / "pq")]) == 0
    assert (tmp_path / "pq" / "deals.parquet").exists() and (tmp_path / "pq" / "loads.parquet").exists()


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "b2bmetrics.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "ingest" in result.stdout


# ---- the same bytes on every run (CONTRACT §4 v2) ----------------------------------------------

ROW_GROUP = 2048  # DuckDB's default is 122,880 rows: at a few thousand accounts every table would be one group


@pytest.fixture(scope="module")
def split_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo at 3,000 accounts (≈ 80,000 activities, 55,000 stage moves), rewritten with row
    groups of 2,048 rows, so DuckDB's threads split every scan and aggregate into many parts
    whose order varies from run to run, as on a large database."""
    work = tmp_path_factory.mktemp("determinism")
    demo, db = work / "demo.duckdb", work / "split.duckdb"
    assert main(["demo", "--db", str(demo), "--accounts", "3000", "--seed", "11"]) == 0
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"ATTACH '{demo}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{db}' AS dst (ROW_GROUP_SIZE {ROW_GROUP})")
        con.execute("COPY FROM DATABASE src TO dst")
        groups = con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('dst.activities')").fetchone()
    finally:
        con.close()
    assert groups is not None and groups[0] > 20  # the split really happened
    return db


def _kpis_bytes(db: Path, *extra: str) -> bytes:
    """stdout of `b2bmetrics kpis --db DB --format json ...` in a process of its own (default threads)."""
    proc = subprocess.run([sys.executable, "-m", "b2bmetrics.cli", "kpis", "--db", str(db), "--format", "json", *extra],
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return proc.stdout


# money the contract calls exact, with the most decimal places each may have: DECIMAL(18,4) sums keep 4;
# amount × share (DECIMAL(12,10)) up to 14; commission figures are rounded to cents
EXACT_MONEY = {"won_amount": 4, "mrr_start": 4, "mrr_end": 4, "quota": 4, "credited_revenue": 14,
               "total_payout": 2, "commission": 2, "referral_commission": 2, "clawback": 2, "payout": 2}


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), ("--region", "华东")], ids=["everyone", "one-region"])
def test_kpis_json_is_byte_identical_from_run_to_run(split_demo: Path, extra: tuple[str, ...]) -> None:
    first, second = _kpis_bytes(split_demo, *extra), _kpis_bytes(split_demo, *extra)
    assert first == second
    assert first.endswith(b"}\n") and first.count(b"\n") == 1  # one object on one line
    out = json.loads(first)
    assert out["commission"]["rows"] and out["funnel"]["stages"]  # something to compare was printed
    # the lists come out in a stated order: stages as configured, rows by person, then period,
    # tables as the schema declares them
    rows = [(r["rep_id"], r["period_start"]) for r in out["commission"]["rows"]]
    assert rows == sorted(rows)
    from b2bmetrics.config import Config
    from b2bmetrics.schema import TABLES

    assert [s["stage"] for s in out["funnel"]["stages"]] == list(Config().pipeline.stages)
    assert list(out["quality"]["tables"]) == list(TABLES)
    # exact money prints as decimals, never as a float's 18501147.310000002
    text = first.decode("utf-8")
    for key, places in EXACT_MONEY.items():
        for number in re.findall(rf'"{key}":(-?[0-9.eE+-]+)', text):
            assert re.fullmatch(rf"-?[0-9]+\.[0-9]{{1,{places}}}", number), (key, number)


def test_a_reader_that_goes_away_is_not_a_bug(demo_db: Path) -> None:
    """`b2bmetrics kpis | head -c 100`: the pipe closes before the JSON is written; exit 141 (as a
    shell reports SIGPIPE), no traceback and no "this is a bug"."""
    proc = subprocess.Popen([sys.executable, "-m", "b2bmetrics.cli", "kpis", "--db", str(demo_db), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is printed
    err = proc.stderr.read().decode("utf-8", "replace")
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "bug" not in err
