"""`b2bmetrics.toml` (CONTRACT §3) -> a frozen, validated `Config`.

Every key has a default. A file given with `--config`, else a `b2bmetrics.toml` beside the database,
overrides the keys it names. Unknown keys, unknown stages, tiers out of order and negative rates are
refused with a message naming the key and the fix.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from b2bmetrics.errors import B2BError
from b2bmetrics.schema import header_key

DEFAULT_STAGES = ("lead", "qualified", "visit", "needs_analysis", "proposal", "negotiation", "won")
DEFAULT_PHASES = {"engage": ("lead", "qualified"), "discover": ("visit", "needs_analysis"),
                  "close": ("proposal", "negotiation", "won")}
DEFAULT_ALIASES = {"closed won": "won", "closed lost": "lost", "closedwon": "won", "closedlost": "lost",
                   "赢单": "won", "输单": "lost"}


@dataclass(frozen=True)
class Tier:
    """A band of attainment: up to `up_to` (None = open last band) paid at `rate`."""

    up_to: float | None
    rate: float


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[str, ...] = DEFAULT_STAGES
    lost_stage: str = "lost"
    phases: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_PHASES))
    aliases: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))

    @property
    def won_stage(self) -> str:
        return self.stages[-1]

    def phase_of(self, stage: str) -> str | None:
        for phase, members in self.phases.items():
            if stage in members:
                return phase
        return None

    def stage_lookup(self) -> dict[str, str]:
        """Normalised spelling -> canonical stage, for stages, the lost stage and aliases."""
        out = {header_key(s): s for s in (*self.stages, self.lost_stage)}
        out.update({header_key(k): v for k, v in self.aliases.items()})
        return out


@dataclass(frozen=True)
class Plan:
    """A commission plan (CONTRACT §3 [commission])."""

    period: str = "quarter"
    mode: str = "marginal"
    tiers: tuple[Tier, ...] = (Tier(0.5, 0.04), Tier(1.0, 0.08), Tier(None, 0.12))
    default_quota: float = 0.0
    cap: float = 0.0
    referral_rate: float = 0.02
    clawback_days: int = 90
    basis: str = "booked"  # (v2) or "collected": credit each payment's amount_paid at paid_at (回款提成)


@dataclass(frozen=True)
class Forecast:
    """(v2) CONTRACT §3 [forecast]: win probabilities set by hand, pipeline stage -> 0–1. A stage
    not named takes the probability learned from the data (CONTRACT §5 "Forecast")."""

    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    pipeline: Pipeline = field(default_factory=Pipeline)
    region_of: str = "account"
    first_response_sla_hours: float = 24.0
    commission: Plan = field(default_factory=Plan)
    forecast: Forecast = field(default_factory=Forecast)
    currency: str = "CNY"
    spark_master: str = "local[*]"
    source: str = "built-in defaults"


_KNOWN: dict[str, set[str]] = {
    "pipeline": {"stages", "lost_stage", "phases", "aliases"},
    "filters": {"region_of"},
    "service": {"first_response_sla_hours"},
    "commission": {"period", "mode", "tiers", "default_quota", "cap", "referral_rate", "clawback_days", "basis"},
    "forecast": {"probabilities"},
    "data": {"currency"},
    "engine": {"spark_master"},
}


def _err(where: str, what: str, fix: str) -> B2BError:
    return B2BError(f"{where}: {what}", fix=fix)


def _number(where: str, key: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(where, f"{key} = {value!r} is not a number", f"write {key} as a number, e.g. {key} = 0.05")
    if value < minimum:
        raise _err(where, f"{key} = {value} is negative", f"{key} must be ≥ {minimum:g}")
    return float(value)


def parse_plan(raw: dict[str, Any], where: str = "[commission]", base: Plan | None = None) -> Plan:
    """Validate a commission table (as in the TOML, or edited in the dashboard) into a Plan."""
    plan = base or Plan()
    unknown = set(raw) - _KNOWN["commission"]
    if unknown:
        raise _err(where, f"unknown key {sorted(unknown)[0]!r}",
                   f"use only {', '.join(sorted(_KNOWN['commission']))}")
    kw: dict[str, Any] = {}
    if "period" in raw:
        if raw["period"] not in ("quarter", "month"):
            raise _err(where, f"period = {raw['period']!r} is not 'quarter' or 'month'", 'period = "quarter"')
        kw["period"] = raw["period"]
    if "mode" in raw:
        if raw["mode"] not in ("marginal", "retroactive"):
            raise _err(where, f"mode = {raw['mode']!r} is not 'marginal' or 'retroactive'", 'mode = "marginal"')
        kw["mode"] = raw["mode"]
    if "tiers" in raw:
        kw["tiers"] = _parse_tiers(where, raw["tiers"])
    for key in ("default_quota", "cap", "referral_rate"):
        if key in raw:
            kw[key] = _number(where, key, raw[key])
    if "clawback_days" in raw:
        days = _number(where, "clawback_days", raw["clawback_days"])
        if days != int(days):
            raise _err(where, f"clawback_days = {days} is not a whole number of days", "clawback_days = 90")
        kw["clawback_days"] = int(days)
    if "basis" in raw:
        if raw["basis"] not in ("booked", "collected"):
            raise _err(where, f"basis = {raw['basis']!r} is not 'booked' or 'collected'", 'basis = "booked"')
        kw["basis"] = raw["basis"]
    return replace(plan, **kw)


def _parse_tiers(where: str, tiers: Any) -> tuple[Tier, ...]:
    if not isinstance(tiers, list) or not tiers:
        raise _err(where, "tiers must be a non-empty list", 'tiers = [ { up_to = 1.0, rate = 0.05 }, { rate = 0.1 } ]')
    out: list[Tier] = []
    previous = 0.0
    for i, t in enumerate(tiers, start=1):
        if not isinstance(t, dict) or "rate" not in t or set(t) - {"up_to", "rate"}:
            raise _err(where, f"tier {i} must be {{ up_to = N, rate = R }} (only the last may omit up_to)",
                       "write each tier as { up_to = 0.5, rate = 0.04 }")
        rate = _number(where, f"tiers[{i}].rate", t["rate"])
        last = i == len(tiers)
        if "up_to" not in t:
            if not last:
                raise _err(where, f"tier {i} has no up_to but is not the last tier",
                           "only the last tier is open-ended; give the others an up_to")
            out.append(Tier(None, rate))
            continue
        up_to = _number(where, f"tiers[{i}].up_to", t["up_to"])
        if up_to <= previous:
            raise _err(where, f"tiers are out of order: tier {i} up_to = {up_to:g} is not above {previous:g}",
                       "list tiers by increasing up_to")
        previous = up_to
        out.append(Tier(up_to, rate))
    if out[-1].up_to is not None:
        # an attainment above the last bound is still paid: the last band stays open
        out[-1] = Tier(None, out[-1].rate)
    return tuple(out)


def _parse_pipeline(raw: dict[str, Any], where: str) -> Pipeline:
    unknown = set(raw) - _KNOWN["pipeline"]
    if unknown:
        raise _err(where, f"unknown key {sorted(unknown)[0]!r}", f"use only {', '.join(sorted(_KNOWN['pipeline']))}")
    p = Pipeline()
    stages = tuple(raw.get("stages", p.stages))
    if len(stages) < 2 or not all(isinstance(s, str) and s for s in stages) or len(set(stages)) != len(stages):
        raise _err(where, "stages must list at least two distinct stage names",
                   'stages = ["lead", "qualified", "proposal", "won"]')
    lost = raw.get("lost_stage", p.lost_stage)
    if not isinstance(lost, str) or lost in stages:
        raise _err(where, f"lost_stage = {lost!r} must be a name that is not one of the stages", 'lost_stage = "lost"')
    phases_raw = raw.get("phases", {k: list(v) for k, v in p.phases.items()} if "stages" not in raw else {})
    phases: dict[str, tuple[str, ...]] = {}
    for name, members in dict(phases_raw).items():
        for s in members:
            if s not in stages:
                raise _err(where, f"phase {name!r} names unknown stage {s!r}",
                           f"use stages from [pipeline] stages: {', '.join(stages)}")
        phases[name] = tuple(members)
    aliases = dict(raw.get("aliases", p.aliases))
    for alias, target in aliases.items():
        if target not in (*stages, lost):
            raise _err(where, f"alias {alias!r} points at unknown stage {target!r}",
                       f"point aliases at one of: {', '.join((*stages, lost))}")
    return Pipeline(stages=stages, lost_stage=lost, phases=phases, aliases=aliases)


def _parse_forecast(raw: dict[str, Any], pipeline: Pipeline, where: str) -> Forecast:
    """[forecast] probabilities: a table of pipeline stages, each a number from 0 to 1."""
    probabilities = raw.get("probabilities", {})
    if not isinstance(probabilities, dict):
        raise _err(where, "probabilities must be a table of stage = probability",
                   "probabilities = { proposal = 0.4, negotiation = 0.6 }")
    out: dict[str, float] = {}
    for stage, value in probabilities.items():
        if stage not in pipeline.stages:
            raise _err(where, f"probabilities names unknown stage {stage!r}",
                       f"use stages from [pipeline] stages: {', '.join(pipeline.stages)}")
        p = _number(where, f"probabilities.{stage}", value)
        if p > 1:
            raise _err(where, f"probabilities.{stage} = {value} is above 1",
                       f"write a probability from 0 to 1 (40 % is {stage} = 0.4)")
        out[stage] = p
    return Forecast(out)


def parse_config(raw: dict[str, Any], source: str = "b2bmetrics.toml") -> Config:
    """Validate a parsed TOML document into a Config; unknown sections and keys are refused."""
    for section, body in raw.items():
        if section not in _KNOWN:
            raise _err(source, f"unknown section [{section}]", f"use only {', '.join('[' + s + ']' for s in _KNOWN)}")
        if not isinstance(body, dict):
            raise _err(source, f"[{section}] must be a table", f"write it as [{section}] followed by keys")
        unknown = set(body) - _KNOWN[section]
        if unknown:
            raise _err(f"{source} [{section}]", f"unknown key {sorted(unknown)[0]!r}",
                       f"use only {', '.join(sorted(_KNOWN[section]))}")
    cfg = Config(source=source)
    kw: dict[str, Any] = {}
    if "pipeline" in raw:
        kw["pipeline"] = _parse_pipeline(raw["pipeline"], f"{source} [pipeline]")
    region_of = raw.get("filters", {}).get("region_of", cfg.region_of)
    if region_of not in ("account", "rep"):
        raise _err(f"{source} [filters]", f"region_of = {region_of!r} is not 'account' or 'rep'", 'region_of = "account"')
    kw["region_of"] = region_of
    if "first_response_sla_hours" in raw.get("service", {}):
        kw["first_response_sla_hours"] = _number(f"{source} [service]", "first_response_sla_hours",
                                                 raw["service"]["first_response_sla_hours"])
    if "commission" in raw:
        kw["commission"] = parse_plan(raw["commission"], f"{source} [commission]")
    if "forecast" in raw:
        kw["forecast"] = _parse_forecast(raw["forecast"], kw.get("pipeline", cfg.pipeline), f"{source} [forecast]")
    if "currency" in raw.get("data", {}):
        kw["currency"] = str(raw["data"]["currency"])
    if "spark_master" in raw.get("engine", {}):
        kw["spark_master"] = str(raw["engine"]["spark_master"])
    return replace(cfg, **kw)


def read_toml(path: Path, what: str, option: str) -> dict[str, Any]:
    """A TOML file as a dict; B2BError naming the file when it is missing, not TOML or not UTF-8."""
    if not path.exists():
        raise B2BError(f"{what} {path} does not exist", fix=f"check the {option} path")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise B2BError(f"{path}: not valid TOML ({exc})", fix="fix the syntax at the line named") from exc
    except UnicodeDecodeError as exc:
        raise B2BError(f"{path}: not UTF-8 text", fix="save the file as UTF-8") from exc


def load_config(path: str | Path | None = None, db: str | Path | None = None) -> Config:
    """The config from `path`, else `b2bmetrics.toml` beside `db`, else the defaults."""
    candidate: Path | None = Path(path) if path else None
    if candidate is None and db is not None:
        beside = Path(db).resolve().parent / "b2bmetrics.toml"
        candidate = beside if beside.exists() else None
    if candidate is None:
        return Config()
    return parse_config(read_toml(candidate, "config file", "--config"), str(candidate))
