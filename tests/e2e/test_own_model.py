"""A team's own model through the loop on real data: ``examples/team_model`` replayed.

The example package (ratio features of its own, a target encoder, LightGBM) is named in its config
(``training.model``) and found beside it; ``driftloop replay`` drives the first 21 days of January 2013
New York departures through the real DAGs (``dag.test``): the first model, a performance-decay
alarm, a retrain on the new days, the challenger scored in shadow beside the champion, and the
gate's decisions, all on the team's model loaded back from the registry under its declared types.
"""

from __future__ import annotations

import json
import re

from driftloop.core.config import project_root
from driftloop.tracking.mlflow import (
    TAG_DECISION,
    TAG_DECISION_REASON,
    TAG_TRUSTED_TYPES,
)
from tests.e2e.test_replay_real_data import estimator_error, replay
from tests.support import real_data

CONFIG = project_root() / "examples" / "team_model" / "flights_delay.yaml"
MODEL = "flights_team-model"


def _versions(state):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{state / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions(f"name='{MODEL}'")
    return client, sorted(versions, key=lambda v: int(v.version))


def test_team_model_first_model_decay_retrain_shadow_and_promotion(tmp_path) -> None:
    source = real_data.flights(until="2013-01-22")
    summary, state = replay(tmp_path, CONFIG, source)
    days = {d["day"]: d for d in summary["days"]}
    assert [d["validation"] for d in days.values()] == ["validated"] * 21
    trained = [d for d in days.values() if d["retrain_triggered"]]
    assert [d["day"] for d in trained] == ["2013-01-06", "2013-01-19"]
    assert trained[0]["action"] == "bootstrap training, promoted"
    # The alarm: the live ROC AUC of the days since the 14th decayed from the champion's holdout
    # value; the retrain learns from those days only.
    assert trained[1]["reason"].startswith("performance decay: roc_auc 0.921 -> ")
    assert trained[1]["reason"].endswith("training on data since 2013-01-14")
    # The challenger is not promoted at once: it is scored in shadow on the 20th, and promoted
    # when that day's labels land (the 21st).
    assert [days[f"2013-01-{n}"]["champion_version"] for n in (19, 20, 21)] == [1, 1, 2]

    client, versions = _versions(state)
    assert [str(v.version) for v in versions] == ["1", "2"]
    for v in versions:
        run = client.get_run(v.run_id)
        assert run.data.tags["driftloop.algorithm"] == "team_model.model:build"
        # The team's types, recorded on the version at registration, as declared in the config.
        assert "team_model.features.RatioFeatures" in json.loads(v.tags[TAG_TRUSTED_TYPES])
        # Boosting stopped early on a training day, never on the holdout.
        stop = run.data.params["fit.early_stopping_days"]
        assert stop in json.loads(run.data.tags["driftloop.partitions"])[:-2]
        assert 0 < int(run.data.params["fit.best_iteration"]) < 200
    first, second = versions
    assert first.tags[TAG_DECISION] == "promoted to champion by gate (auto-promote)"
    assert (
        "gate: no champion yet; roc_auc 0.9212 meets the floor" in first.tags[TAG_DECISION_REASON]
    )
    assert second.tags[TAG_DECISION] == "promoted to champion by shadow review (auto-promote)"
    reason = second.tags[TAG_DECISION_REASON]
    assert reason.startswith("won in shadow: roc_auc over 1 labelled partitions: challenger ")
    challenger, champion = (
        float(x) for x in re.findall(r"(?:challenger|champion) (0\.\d+)", reason)
    )
    assert challenger > champion

    # CBPE estimated each day's ROC AUC before its labels: seen MAE 0.056 on 14 labelled days.
    mae, labelled = estimator_error(summary, "roc_auc")
    assert labelled >= 12 and mae < 0.08
