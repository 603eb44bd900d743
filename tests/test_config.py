"""b2bmetrics.toml: defaults as CONTRACT §3, overrides, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2bmetrics.config import Config, Tier, load_config, parse_config, parse_plan
from b2bmetrics.errors import B2BError


def test_defaults_are_the_contracts() -> None:
    cfg = Config()
    assert cfg.pipeline.stages == ("lead", "qualified", "visit", "needs_analysis", "proposal", "negotiation", "won")
    assert cfg.pipeline.lost_stage == "lost"
    assert cfg.pipeline.phase_of("visit") == "discover"
    assert cfg.region_of == "account"
    assert cfg.first_response_sla_hours == 24
    plan = cfg.commission
    assert (plan.period, plan.mode, plan.default_quota, plan.cap, plan.referral_rate, plan.clawback_days) == (
        "quarter", "marginal", 0.0, 0.0, 0.02, 90)
    assert plan.tiers == (Tier(0.5, 0.04), Tier(1.0, 0.08), Tier(None, 0.12))
    assert cfg.pipeline.stage_lookup()["closedwon"] == "won"
    assert cfg.pipeline.stage_lookup()["赢单"] == "won"


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    (tmp_path / "b2bmetrics.toml").write_text(
        '[commission]\nmode = "retroactive"\ncap = 5000\n[service]\nfirst_response_sla_hours = 8\n',
        encoding="utf-8")
    cfg = load_config(None, tmp_path / "x.duckdb")  # the file beside the database
    assert cfg.commission.mode == "retroactive" and cfg.commission.cap == 5000
    assert cfg.commission.referral_rate == 0.02
    assert cfg.first_response_sla_hours == 8


@pytest.mark.parametrize(("raw", "words"), [
    ({"pipeline": {"phases": {"engage": ["lead", "signup"]}}}, ["phase 'engage'", "unknown stage 'signup'"]),
    ({"commission": {"tiers": [{"up_to": 1.0, "rate": 0.05}, {"up_to": 0.5, "rate": 0.1}, {"rate": 0.2}]}},
     ["out of order"]),
    ({"commission": {"referral_rate": -0.01}}, ["referral_rate", "negative"]),
    ({"commission": {"tiers": [{"up_to": 0.5, "rate": -0.04}, {"rate": 0.1}]}}, ["rate", "negative"]),
    ({"commission": {"bonus": 1}}, ["unknown key 'bonus'"]),
    ({"reporting": {"x": 1}}, ["unknown section [reporting]"]),
    ({"filters": {"region_of": "team"}}, ["region_of"]),
    ({"commission": {"mode": "flat"}}, ["mode"]),
    ({"pipeline": {"aliases": {"signed": "closing"}}}, ["alias 'signed'", "unknown stage 'closing'"]),
    # (v2) [forecast] probabilities: pipeline stages only (the lost stage is none), numbers from 0 to 1
    ({"forecast": {"probabilities": {"closing": 0.5}}}, ["[forecast]", "unknown stage 'closing'"]),
    ({"forecast": {"probabilities": {"lost": 0.0}}}, ["[forecast]", "unknown stage 'lost'"]),
    ({"forecast": {"probabilities": {"proposal": 40}}}, ["probabilities.proposal = 40", "above 1"]),
    ({"forecast": {"probabilities": {"proposal": -0.1}}}, ["probabilities.proposal", "negative"]),
    ({"forecast": {"probabilities": {"proposal": "40%"}}}, ["probabilities.proposal", "not a number"]),
    ({"forecast": {"probabilities": {"proposal": True}}}, ["probabilities.proposal", "not a number"]),
    ({"forecast": {"probabilities": 0.4}}, ["[forecast]", "must be a table"]),
    ({"forecast": {"weights": {}}}, ["unknown key 'weights'"]),
    # the stages are those of the same file's [pipeline]
    ({"pipeline": {"stages": ["lead", "demo", "won"]}, "forecast": {"probabilities": {"proposal": 0.4}}},
     ["unknown stage 'proposal'", "lead, demo, won"]),
])
def test_bad_settings_are_refused_with_the_key_and_a_fix(raw: dict, words: list[str]) -> None:
    with pytest.raises(B2BError) as err:
        parse_config(raw, "b2bmetrics.toml")
    message = str(err.value)
    for word in words:
        assert word in message
    assert "fix:" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "b2bmetrics.toml"
    bad.write_text("[commission\nmode = 1", encoding="utf-8")
    with pytest.raises(B2BError, match="not valid TOML"):
        load_config(bad)


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(B2BError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_plan_editor_values_validate_like_the_file() -> None:
    plan = parse_plan({"tiers": [{"up_to": 1.0, "rate": 0.05}, {"up_to": 2.0, "rate": 0.1}]})
    # the last band is always open-ended
    assert plan.tiers == (Tier(1.0, 0.05), Tier(None, 0.1))
    with pytest.raises(B2BError, match="clawback_days"):
        parse_plan({"clawback_days": 10.5})


def test_forecast_probabilities_are_read_for_the_stages_named() -> None:
    assert Config().forecast.probabilities == {}  # CONTRACT §3: every stage learned by default
    cfg = parse_config({"pipeline": {"stages": ["lead", "demo", "won"]},
                        "forecast": {"probabilities": {"demo": 0.25, "won": 1, "lead": 0}}})
    assert cfg.forecast.probabilities == {"demo": 0.25, "won": 1.0, "lead": 0.0}
    assert all(isinstance(p, float) for p in cfg.forecast.probabilities.values())
