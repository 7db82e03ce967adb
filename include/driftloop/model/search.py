"""Hyperparameter search of a training (``training.search``; off by default).

scikit-learn's ``RandomizedSearchCV`` (``method: random``) or ``HalvingRandomSearchCV``
(``method: halving``) over the model's estimator, on time-ordered folds of the *training part* of
the window: ``TimeSeriesSplit`` over its days, so every fold is scored on days after the ones it was
fitted on, and the holdout is never seen. The search is bounded by ``n_trials`` and by
``time_budget_seconds``: no new candidate (random) or round (halving) starts once the budget is
spent, and the best candidate so far wins. The best parameters are then fitted on the whole training
part like any training (:func:`driftloop.model.fitting.fit_model`). Each candidate becomes a child
MLflow run of the training run (:func:`log_trials`).

Parameter names are the estimator's (``get_params`` keys, e.g. ``model__num_leaves`` in a
pipeline); for a built-in family a bare hyperparameter name (``num_leaves``) means its model step's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.core.config import PipelineConfig, Search
from driftloop.data.windows import PARTITION_COLUMN

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient


@dataclass
class SearchResult:
    """The winner of a search and every candidate tried (for the child runs)."""

    best_params: dict[str, Any]
    best_score: float
    seconds: float
    scoring: str
    trials: list[dict[str, Any]] = field(default_factory=list)


class _BudgetSpent(Exception):
    """Raised inside a search to stop it when the time budget is spent."""


def distributions(params: dict[str, Any], builtin: bool) -> dict[str, Any]:
    """``training.search.params`` as scikit-learn distributions: a list is a choice; ``{low, high}``
    is uniform (integers when both bounds are), ``log: true`` makes it log-uniform."""
    from scipy import stats

    out: dict[str, Any] = {}
    for name, spec in params.items():
        key = f"model__{name}" if builtin and "__" not in name else name
        if isinstance(spec, list):
            out[key] = spec
            continue
        low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
        if isinstance(low, int) and isinstance(high, int):
            out[key] = stats.randint(low, high + 1)
        elif log:
            out[key] = stats.loguniform(low, high)
        else:
            out[key] = stats.uniform(low, high - low)
    return out


def day_folds(train: pd.DataFrame, n_splits: int) -> list[tuple[Any, Any]]:
    """Time-ordered folds over the days of ``train`` (``TimeSeriesSplit`` of its sorted days)."""
    import numpy as np
    from sklearn.model_selection import TimeSeriesSplit

    days = np.array(sorted(train[PARTITION_COLUMN].unique()))
    splits = min(n_splits, len(days) - 1)
    if splits < 2:
        raise ValueError(f"training.search: {len(days)} training days cannot make 2 time folds")
    day_of_row = train[PARTITION_COLUMN].to_numpy()
    folds = []
    for fit_days, test_days in TimeSeriesSplit(n_splits=splits).split(days):
        folds.append(
            (
                np.flatnonzero(np.isin(day_of_row, days[fit_days])),
                np.flatnonzero(np.isin(day_of_row, days[test_days])),
            )
        )
    return folds


def _bounded(cls: type, deadline: float) -> type:
    """``cls`` (a scikit-learn search) that starts no candidate batch after ``deadline``; random
    search is given one candidate a batch, so the budget bounds it to a trial."""
    from sklearn.model_selection import ParameterSampler, RandomizedSearchCV

    class Bounded(cls):
        # scikit-learn passes its callback context only to a method that names it.
        def _run_search(self, evaluate_candidates: Any, *, callback_ctx: Any = None) -> None:
            started = False

            def evaluate(*args: Any, **kwargs: Any) -> Any:
                nonlocal started
                if started and time.monotonic() > deadline:
                    raise _BudgetSpent
                started = True
                return evaluate_candidates(*args, **kwargs)

            try:
                if isinstance(self, RandomizedSearchCV):
                    sampler = ParameterSampler(
                        self.param_distributions, self.n_iter, random_state=self.random_state
                    )
                    for candidate in sampler:
                        evaluate([candidate])  # one batch a trial; no progress callbacks
                else:
                    super()._run_search(evaluate, callback_ctx=callback_ctx)
            except _BudgetSpent:
                pass

    return Bounded


def run_search(
    cfg: PipelineConfig,
    estimator: Any,
    train: pd.DataFrame,
    y: Any,
    *,
    builtin: bool,
    fit_params: dict[str, Any] | None = None,
) -> SearchResult:
    """Search ``cfg.training.search`` over ``estimator`` (unfitted) on the training part."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (registers it)
    from sklearn.model_selection import HalvingRandomSearchCV, RandomizedSearchCV

    from driftloop.model.report import task_scorer

    search: Search | None = cfg.training.search
    if search is None:
        raise ValueError("training.search is not configured")
    scoring = task_scorer(cfg.dataset.task)
    started = time.monotonic()
    cls = RandomizedSearchCV if search.method == "random" else HalvingRandomSearchCV
    common: dict[str, Any] = {
        "cv": day_folds(train, search.cv_splits),
        "scoring": scoring,
        "refit": False,
        "random_state": cfg.training.random_state,
        "error_score": "raise",
    }
    dists = distributions(search.params, builtin)
    if search.method == "random":
        searcher = _bounded(cls, started + search.time_budget_seconds)(
            estimator, dists, n_iter=search.n_trials, **common
        )
    else:
        searcher = _bounded(cls, started + search.time_budget_seconds)(
            estimator, dists, n_candidates=search.n_trials, factor=2, **common
        )
    searcher.fit(train[cfg.dataset.feature_names], y, **(fit_params or {}))
    res = searcher.cv_results_
    trials = [
        {
            "params": res["params"][i],
            "score": float(res["mean_test_score"][i]),
            "fit_seconds": float(res["mean_fit_time"][i]),
            "n_resources": int(res["n_resources"][i]) if "n_resources" in res else None,
        }
        for i in range(len(res["params"]))
    ]
    return SearchResult(
        best_params=dict(searcher.best_params_),
        best_score=float(searcher.best_score_),
        seconds=time.monotonic() - started,
        scoring=scoring,
        trials=trials,
    )


def log_trials(
    client: MlflowClient, experiment_id: str, parent_run_id: str, result: SearchResult
) -> None:
    """One child run per candidate under the training run: its parameters and mean CV score."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    for i, trial in enumerate(result.trials):
        run = client.create_run(
            experiment_id,
            run_name=f"trial-{i}",
            tags={MLFLOW_PARENT_RUN_ID: parent_run_id, "driftloop.search_trial": str(i)},
        )
        for name, value in trial["params"].items():
            client.log_param(run.info.run_id, name, value)
        client.log_metric(run.info.run_id, f"cv_{result.scoring}", trial["score"])
        client.log_metric(run.info.run_id, "fit_seconds", trial["fit_seconds"])
        if trial["n_resources"] is not None:
            client.log_metric(run.info.run_id, "n_resources", trial["n_resources"])
        client.set_terminated(run.info.run_id, "FINISHED")


__all__ = ["SearchResult", "day_folds", "distributions", "log_trials", "run_search"]
