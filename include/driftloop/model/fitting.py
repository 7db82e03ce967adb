"""Fitting a model on the training part of a window, with early stopping for boosters.

A LightGBM or XGBoost final step (a built-in family or a team's pipeline) stops adding trees when
its loss on the *last days of the training part* stops improving: the split is by day, in time
order, like the holdout, and the holdout itself is never seen. The preprocessing steps are fitted on
the whole training part (categories of the latest days are known); the trees learn on the earlier
days and are measured on the later ones. Any other estimator is simply fitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftloop.data.windows import PARTITION_COLUMN

if TYPE_CHECKING:
    import pandas as pd

# Rounds without improvement before a booster stops; the share of training days it is measured on.
EARLY_STOPPING_ROUNDS = 30
EARLY_STOPPING_SHARE = 0.2
# Fewer training days than this: no day can be spared, the booster fits all its rounds.
MIN_DAYS_FOR_EARLY_STOPPING = 3


def booster_kind(model: Any) -> str | None:
    """``"lightgbm"`` or ``"xgboost"`` when the model's last step is one (by its class's module,
    so neither library is imported to ask)."""
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if steps else model
    module = type(final).__module__.split(".")[0]
    return module if module in ("lightgbm", "xgboost") else None


def fit_model(
    model: Any,
    train: pd.DataFrame,
    y: Any,
    features: list[str],
    fit_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit ``model`` on the rows of ``train`` (``y`` their target); returns what to log.

    ``train`` carries the partition column. A booster last step of a ``Pipeline`` over three or
    more training days stops early (see the module docstring); the result then names the number
    of trees kept (``best_iteration``) and the days it stopped on.
    """
    import numpy as np

    params = dict(fit_params or {})
    kind = booster_kind(model)
    days = sorted(train[PARTITION_COLUMN].unique()) if PARTITION_COLUMN in train else []
    if kind is None or not hasattr(model, "steps") or len(days) < MIN_DAYS_FOR_EARLY_STOPPING:
        model.fit(train[features], y, **params)
        return {}
    n_stop = max(1, round(len(days) * EARLY_STOPPING_SHARE))
    is_stop = train[PARTITION_COLUMN].isin(days[-n_stop:]).to_numpy()
    y = np.asarray(y)
    x = model[:-1].fit_transform(train[features], y)
    final = model.steps[-1][1]
    final_params = {k.split("__", 1)[1]: v for k, v in params.items() if k.startswith("model__")}
    fit_x, stop_x = x[~is_stop], x[is_stop]
    if kind == "lightgbm":
        import lightgbm

        final.fit(
            fit_x,
            y[~is_stop],
            eval_X=(stop_x,),
            eval_y=(y[is_stop],),
            callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            **final_params,
        )
        best = int(final.best_iteration_ or final.n_estimators)
    else:
        # The parameter is needed for this fit only: a later clone (search, refit) fits plainly.
        final.set_params(early_stopping_rounds=EARLY_STOPPING_ROUNDS)
        try:
            final.fit(
                fit_x, y[~is_stop], eval_set=[(stop_x, y[is_stop])], verbose=False, **final_params
            )
        finally:
            final.set_params(early_stopping_rounds=None)
        best = int(final.best_iteration) + 1
    return {
        "early_stopping_days": ",".join(str(d) for d in days[-n_stop:]),
        "best_iteration": best,
    }


__all__ = ["EARLY_STOPPING_ROUNDS", "booster_kind", "fit_model"]
