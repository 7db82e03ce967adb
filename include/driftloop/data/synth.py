"""Demo data source: a synthetic customer-churn feed with scripted drift scenarios and late labels.

The target follows the config's task type (or ``task=`` of :func:`generate_day`), always derived
from the same features, so every scenario moves it the same way:
    binary       churned or not (a logistic model of the features)
    multiclass   a churn-risk tier: the same logit plus noise, cut at the stationary population's
                 quantiles into ``dataset.classes`` (default ``0``, ``1``, ``2``)
    regression   next month's spend: a linear function of the features plus noise, kept positive

Every day's batch is a pure function of (seed, date, scenario): rerunning gives identical bytes.
A day's events land in ``landing/<day>/features.csv``; their labels arrive ``label_delay_days``
later, as ``landing/<day + delay>/labels_<day>.csv`` (the landing folder of the arrival day).

Scenarios (selected by name):
    none              stationary data
    covariate_shift   from ``drift_start`` chosen features move (a price rise and less engagement by
                      default); the label relation P(y | x) is unchanged
    concept_drift     from ``drift_start`` the label relation changes (features look the same)
    harmless_shift    from ``drift_start`` customers are older and spend longer per session (one
                      standard deviation, inside the range the model was trained on); P(y | x) is
                      unchanged and both features weigh little in it: drift the model handles
    harmful_shift     from ``drift_start`` the customers crowd where churn is a coin toss: new
                      month-to-month customers of short tenure at mid-range prices (the strongest
                      features squeezed toward the values where P(churn) is near 0.5); P(y | x) is
                      unchanged, but the features that separated churners now barely vary, so the
                      champion's ranking (ROC AUC) drops, estimated and realised alike
    data_quality      an incident over three days from ``drift_start``: nulls over the threshold,
                      a numeric column with text in it, then a dropped column
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from driftloop.core.config import FeatureType, PipelineConfig
from driftloop.core.metrics import BINARY, MULTICLASS, TASKS
from driftloop.core.storage import Store, landing_prefix

SCENARIOS = (
    "none",
    "covariate_shift",
    "concept_drift",
    "data_quality",
    "harmless_shift",
    "harmful_shift",
)
DEFAULT_SHIFTED = ("monthly_charges", "days_since_last_login")
HARMLESS_SHIFTED = ("age", "avg_session_minutes")

_PLANS = ["basic", "standard", "premium"]
_PAYMENTS = ["card", "bank_transfer", "paypal", "invoice"]
_REGIONS = ["north", "south", "east", "west"]
# The columns this source generates (a config for it names these features).
FEATURES = (
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "avg_session_minutes",
    "data_usage_gb",
    "days_since_last_login",
    "num_products",
    "age",
    "plan",
    "contract",
    "payment_method",
    "region",
)


@dataclass(frozen=True)
class Scenario:
    """A named scenario and the day it starts (ignored by ``none``)."""

    name: str = "none"
    drift_start: date | None = None
    features: tuple[str, ...] = field(default=DEFAULT_SHIFTED)

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {self.name!r}; choose one of {', '.join(SCENARIOS)}"
            )
        if self.name != "none" and self.drift_start is None:
            raise ValueError(f"scenario {self.name!r} needs a drift_start date")

    def active(self, day: date) -> bool:
        return self.name != "none" and self.drift_start is not None and day >= self.drift_start

    def incident_day(self, day: date) -> int | None:
        """0, 1, 2 on the three days of a data-quality incident, else None."""
        if self.name != "data_quality" or self.drift_start is None:
            return None
        k = (day - self.drift_start).days
        return k if 0 <= k < 3 else None


def _rng(seed: int, day: date, stream: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{day.isoformat()}:{stream}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _choice(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def _population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Customers as they look on a stationary day, with believable relations between columns."""
    tenure = np.minimum(120, np.round(rng.gamma(1.4, 17.0, n)))
    plan = _choice(rng, _PLANS, [0.45, 0.35, 0.20], n)
    base = np.select([plan == "basic", plan == "standard"], [35.0, 65.0], 95.0)
    charges = np.clip(base + rng.normal(0, 12, n), 10, None).round(2)
    # Longer-tenured customers hold longer contracts.
    p_long = np.clip(0.15 + tenure / 100, 0, 0.85)
    u = rng.random(n)
    contract = np.where(
        u > p_long, "month_to_month", np.where(u > p_long / 2, "one_year", "two_year")
    )
    support = rng.poisson(1.2 + 1.0 * (plan == "basic") + 0.02 * charges / 10)
    session = rng.lognormal(3.3, 0.5, n).round(1)
    usage = (rng.gamma(2.0, 22.0, n) * np.where(plan == "premium", 1.6, 1.0)).round(2)
    last_login = np.minimum(365, np.round(rng.exponential(8.0, n)))
    products = np.minimum(10, 1 + rng.poisson(1.2, n))
    age = np.clip(np.round(rng.normal(42, 13, n)), 18, 90)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": support.astype(float),
            "avg_session_minutes": session,
            "data_usage_gb": usage,
            "days_since_last_login": last_login,
            "num_products": products.astype(float),
            "age": age,
            "plan": plan,
            "contract": contract.astype(object),
            "payment_method": _choice(rng, _PAYMENTS, [0.40, 0.25, 0.20, 0.15], n),
            "region": _choice(rng, _REGIONS, [0.30, 0.25, 0.25, 0.20], n),
        }
    )


@functools.cache
def _stationary_std(name: str) -> float:
    """Standard deviation of a numeric column of the stationary population (a fixed sample)."""
    return float(_population(np.random.default_rng(0), 50_000)[name].std())


def _churn_logit(df: pd.DataFrame, concept_drift: bool) -> np.ndarray:
    contract = df["contract"].map({"month_to_month": 0.9, "one_year": -0.3, "two_year": -1.2})
    payment = df["payment_method"].map(
        {"card": 0.0, "bank_transfer": -0.2, "paypal": 0.1, "invoice": 0.35}
    )
    plan = df["plan"].map({"basic": 0.2, "standard": 0.0, "premium": -0.2})
    if not concept_drift:
        return (
            -1.3
            + 0.035 * (df["monthly_charges"] - 65)
            - 0.045 * (df["tenure_months"] - 24)
            + 0.35 * (df["support_calls"] - 2)
            + 0.04 * (df["days_since_last_login"] - 8)
            - 0.012 * (df["avg_session_minutes"] - 30)
            - 0.25 * (df["num_products"] - 2)
            - 0.01 * (df["age"] - 42)
            + contract
            + payment
            + plan
        ).to_numpy(float)
    # A competitor targets long-standing, heavy users: who churns changes, the inputs do not.
    return (
        -1.3
        - 0.02 * (df["monthly_charges"] - 65)
        + 0.04 * (df["tenure_months"] - 24)
        + 0.012 * (df["data_usage_gb"] - 50)
        - 0.6 * contract
        + 0.2 * (df["num_products"] - 2)
        + 0.02 * (df["age"] - 42)
    ).to_numpy(float)


DEFAULT_CLASSES = ("0", "1", "2")


@functools.cache
def _tier_cuts(k: int) -> np.ndarray:
    """Cut points of the risk tiers: quantiles of the stationary latent risk (equal-sized tiers)."""
    rng = np.random.default_rng(1)
    df = _population(rng, 50_000)
    latent = _churn_logit(df, concept_drift=False) + rng.logistic(0, 1, len(df))
    return np.quantile(latent, np.arange(1, k) / k)


def _spend(df: pd.DataFrame, concept_drift: bool) -> np.ndarray:
    """Expected spend next month; under concept drift usage, not the plan price, drives it."""
    contract = df["contract"].map({"month_to_month": 0.0, "one_year": 6.0, "two_year": 10.0})
    if not concept_drift:
        return (
            15.0
            + 0.9 * df["monthly_charges"]
            + 0.2 * df["data_usage_gb"]
            - 2.5 * df["support_calls"]
            + 0.15 * df["tenure_months"]
            - 0.4 * df["days_since_last_login"]
            + contract
        ).to_numpy(float)
    return (
        15.0
        + 0.3 * df["monthly_charges"]
        + 0.7 * df["data_usage_gb"]
        + 1.5 * df["num_products"]
        - 0.1 * df["tenure_months"]
        + contract
    ).to_numpy(float)


def _target(
    df: pd.DataFrame, cfg: PipelineConfig, task: str, concept_drift: bool, rng: np.random.Generator
) -> np.ndarray:
    """The day's target values for ``task``, derived from the features."""
    n = len(df)
    if task == BINARY:
        logit = _churn_logit(df, concept_drift)
        return (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    if task == MULTICLASS:
        classes = list(cfg.dataset.classes or DEFAULT_CLASSES)
        latent = _churn_logit(df, concept_drift) + rng.logistic(0, 1, n)
        tier = np.searchsorted(_tier_cuts(len(classes)), latent)
        return np.asarray(classes, dtype=object)[tier]
    spend = _spend(df, concept_drift) + rng.normal(0, 8.0, n)
    return np.clip(spend, 1.0, None).round(2)


def _covariate_shift(
    df: pd.DataFrame, cfg: PipelineConfig, features: tuple[str, ...]
) -> pd.DataFrame:
    df = df.copy()
    for name in features:
        feat = cfg.dataset.feature(name)
        if feat.type is FeatureType.NUMERIC:
            # Three (stationary) standard deviations up: far enough that the old model extrapolates
            # (trees flatten out past the training range) and a model fitted on the new regime
            # ranks better. A fixed amount, so the new regime is itself stationary.
            shifted = df[name].astype(float) + 3.0 * _stationary_std(name)
            if feat.max is not None:
                shifted = shifted.clip(upper=feat.max)
            df[name] = shifted.round(2)
        else:
            cats = feat.categories or sorted(df[name].unique())
            rng = np.random.default_rng(len(df))
            move = rng.random(len(df)) < 0.5
            df.loc[move, name] = cats[-1]
    return df


def _harmless_shift(df: pd.DataFrame) -> pd.DataFrame:
    """One stationary standard deviation up in features that weigh little in the label relation."""
    df = df.copy()
    df["age"] = np.clip(df["age"] + round(_stationary_std("age")), 18, 90)
    df["avg_session_minutes"] = (
        df["avg_session_minutes"] + _stationary_std("avg_session_minutes")
    ).round(1)
    return df


# harmful_shift: each feature squeezed to this share of its spread around the value where the churn
# logit is near 0 (with a month-to-month contract): tenure 15 months, the standard plan's price.
HARMFUL_SQUEEZE = {"tenure_months": (15.0, 0.25), "monthly_charges": (65.0, 0.25)}


def _harmful_shift(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The population crowds where the classes overlap: the same P(y | x), less to rank by."""
    df = df.copy()
    for name, (centre, keep) in HARMFUL_SQUEEZE.items():
        df[name] = (centre + keep * (df[name].astype(float) - centre)).clip(lower=0).round(2)
    df["tenure_months"] = df["tenure_months"].round()
    df["contract"] = np.where(rng.random(len(df)) < 0.9, "month_to_month", df["contract"])
    return df


@dataclass(frozen=True)
class DayBatch:
    """One day of the feed: the events and their (not yet delivered) labels."""

    day: date
    features: pd.DataFrame
    labels: pd.DataFrame


def generate_day(
    cfg: PipelineConfig,
    day: date,
    scenario: Scenario,
    seed: int = 0,
    rows: int = 2000,
    task: str | None = None,
) -> DayBatch:
    """The batch of ``day``: deterministic in (seed, day, scenario, task).

    ``task`` (default: the config's ``dataset.task``) chooses the target: binary, multiclass or
    regression, all derived from the same features.
    """
    ds = cfg.dataset
    task = task or ds.task
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    rng = _rng(seed, day, "population")
    n = max(1, int(rows * (1 + 0.08 * rng.standard_normal())))
    df = _population(rng, n)
    if scenario.name == "covariate_shift" and scenario.active(day):
        df = _covariate_shift(df, cfg, scenario.features)
    if scenario.name == "harmless_shift" and scenario.active(day):
        df = _harmless_shift(df)
    if scenario.name == "harmful_shift" and scenario.active(day):
        df = _harmful_shift(df, _rng(seed, day, "harmful_shift"))
    concept = scenario.name == "concept_drift" and scenario.active(day)
    y = _target(df, cfg, task, concept, _rng(seed, day, "labels"))

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    seconds = np.sort(_rng(seed, day, "time").integers(0, 86_400, n))
    ids = [f"C{day:%Y%m%d}{i:06d}" for i in range(n)]
    times = [(start + timedelta(seconds=int(s))).isoformat() for s in seconds]
    df.insert(0, ds.timestamp_column, times)
    df.insert(0, ds.id_column, ids)
    labels = pd.DataFrame({ds.id_column: ids, ds.target: y})
    return DayBatch(day=day, features=df, labels=labels)


def _corrupt(csv_df: pd.DataFrame, incident: int, seed: int, day: date) -> pd.DataFrame:
    """The three faces of the data-quality incident, applied to the delivered CSV."""
    rng = _rng(seed, day, "incident")
    df = csv_df.copy()
    if incident == 0:  # an upstream join loses a column's values for many rows
        df.loc[rng.random(len(df)) < 0.4, "monthly_charges"] = np.nan
    elif incident == 1:  # a numeric column arrives with text in it
        col = df["tenure_months"].astype(object)
        col[rng.random(len(df)) < 0.05] = "unknown"
        df["tenure_months"] = col
    else:  # a schema change upstream drops a column
        df = df.drop(columns=["contract"])
    return df


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode()


def write_day(
    store: Store,
    cfg: PipelineConfig,
    day: date,
    scenario: Scenario,
    seed: int = 0,
    rows: int = 2000,
    first_day: date | None = None,
    task: str | None = None,
) -> list[str]:
    """Deliver ``day`` to landing: its events, plus the labels of ``day - label_delay_days``.

    Labels are delivered only for days on or after ``first_day`` (the start of the simulated feed).
    ``task`` overrides the config's task for the labels. Returns the keys written.
    """
    batch = generate_day(cfg, day, scenario, seed, rows, task)
    features = batch.features
    incident = scenario.incident_day(day)
    if incident is not None:
        features = _corrupt(features, incident, seed, day)
    prefix = landing_prefix(day)
    written = []
    label_day = day - timedelta(days=cfg.dataset.label_delay_days)
    if first_day is None or label_day >= first_day:
        labels = generate_day(cfg, label_day, scenario, seed, rows, task).labels
        key = f"{prefix}/labels_{label_day.isoformat()}.csv"
        store.write_bytes(key, _csv(labels))
        written.append(key)
    # The events file last: its arrival is the signal the ingestion sensor waits for.
    key = f"{prefix}/features.csv"
    store.write_bytes(key, _csv(features))
    written.append(key)
    return written


def write_days(
    store: Store,
    cfg: PipelineConfig,
    start: date,
    days: int,
    scenario: Scenario,
    seed: int = 0,
    rows: int = 2000,
    task: str | None = None,
) -> list[str]:
    """Deliver ``days`` consecutive days from ``start`` (labels only where they have arrived)."""
    keys: list[str] = []
    for i in range(days):
        keys += write_day(
            store, cfg, start + timedelta(days=i), scenario, seed, rows, first_day=start, task=task
        )
    return keys
