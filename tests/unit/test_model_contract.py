"""The model contract: a team's ``training.model`` function trains, registers and loads like a
built-in family, its types only when the config declares them; LightGBM/XGBoost and search."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from driftloop.core.config import ConfigError, load_config, project_root
from driftloop.core.errors import EXIT_USAGE, exit_code_for
from driftloop.core.storage import open_store
from driftloop.model import contract, model_io, pipeline, registry, train
from driftloop.tracking.mlflow import TAG_TRUSTED_TYPES, mlflow_client
from tests.support.data import START, write_days

TEAM = project_root() / "examples" / "team_model"
TEAM_TYPES = [
    "team_model.features.RatioFeatures",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.basic.Booster",
    "collections.OrderedDict",
    "sklearn.model_selection._split.KFold",
]
TEAM_PARAMS = {"ratios": [["monthly_charges", "tenure_months"]], "n_estimators": 40}


def _team_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **training) -> Path:
    """The churn config in a folder of its own beside a copy of the example team package (found
    there, not installed), with ``training`` keys set; storage and MLflow under ``tmp_path``."""
    folder = tmp_path / "team"
    shutil.copytree(TEAM / "team_model", folder / "team_model")
    data = yaml.safe_load((project_root() / "configs" / "churn.yaml").read_text())
    data["training"].update(training)
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("DRIFTLOOP__STORAGE__ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("DRIFTLOOP__MLFLOW__TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("DRIFTLOOP__TRAINING__MIN_TRAIN_ROWS", "500")
    return path


def _team(tmp_path, monkeypatch, **training):
    training = {
        "model": "team_model.model:build",
        "trusted_types": TEAM_TYPES,
        "hyperparameters": TEAM_PARAMS,
        **training,
    }
    return load_config(_team_config(tmp_path, monkeypatch, **training))


def test_config_load_checks_the_reference_without_importing_it(tmp_path, monkeypatch) -> None:
    """Shape and presence are checked at load; the module is not imported until training."""
    with pytest.raises(ConfigError, match=r"training.model: 'team_model\.model' is not \"package"):
        load_config(_team_config(tmp_path / "a", monkeypatch, model="team_model.model"))
    with pytest.raises(
        ConfigError, match=r"training\.model: .*module 'team_model\.nope' not found"
    ):
        load_config(_team_config(tmp_path / "b", monkeypatch, model="team_model.nope:build"))
    path = _team_config(tmp_path / "c", monkeypatch, model="boom:build")
    (path.parent / "boom.py").write_text("raise RuntimeError('imported at config load')\n")
    cfg = load_config(path)  # found, not imported
    with pytest.raises(contract.ModelContractError) as err:
        pipeline.check_parameters(cfg)
    message = str(err.value)
    assert message.startswith("training.model: importing 'boom' failed: RuntimeError")
    assert "\n" not in message and exit_code_for(err.value) == EXIT_USAGE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("def build(spec):\n    return object()\n", "returned object, which has no fit"),
        (
            "from sklearn.linear_model import Ridge\ndef build(spec):\n    return Ridge()\n",
            "returned Ridge, which has no predict_proba",
        ),
        ("def build(spec):\n    raise KeyError('ratios')\n", "calling it failed: KeyError"),
        ("build = 3\n", "has no function 'build'"),
    ],
)
def test_the_full_check_names_the_key_on_one_line(tmp_path, monkeypatch, body, message) -> None:
    path = _team_config(tmp_path, monkeypatch, model=f"bad_{abs(hash(body))}:build")
    (path.parent / f"bad_{abs(hash(body))}.py").write_text(body)
    cfg = load_config(path)
    assert contract.check_contract(cfg) is not None
    with pytest.raises(contract.ModelContractError, match=message) as err:
        pipeline.check_parameters(cfg)
    assert str(err.value).startswith("training.model: ") and "\n" not in str(err.value)


def test_the_spec_carries_the_config(tmp_path, monkeypatch) -> None:
    cfg = _team(tmp_path, monkeypatch)
    spec = contract.model_spec(cfg, {"n_estimators": 5})
    assert spec.task == "binary" and spec.classes is None
    assert spec.numeric[0] == contract.NumericFeature("tenure_months", 0, 120)
    plan = next(f for f in spec.categorical if f.name == "plan")
    assert plan.categories == ("basic", "standard", "premium")
    assert spec.feature_names == tuple(cfg.dataset.feature_names)
    with pytest.raises(TypeError):
        spec.hyperparameters["n_estimators"] = 6  # type: ignore[index]


def test_a_team_model_trains_registers_its_types_and_loads(tmp_path, monkeypatch) -> None:
    """The team's pipeline is fitted (stopping early on training days), registered with the types
    it needs recorded on the version, and loaded back giving the same predictions."""
    cfg = _team(tmp_path, monkeypatch)
    write_days(open_store(cfg.storage), cfg, 9, rows=200)
    result = train.train_model(cfg, START + timedelta(days=8))
    assert result.algorithm == "team_model.model:build"
    tags = registry.get_version(cfg, result.model_version).tags
    assert json.loads(tags[TAG_TRUSTED_TYPES]) == sorted(TEAM_TYPES)
    run = mlflow_client(cfg).get_run(result.run_id)
    stop_days = run.data.params["fit.early_stopping_days"].split(",")
    assert stop_days and not set(stop_days) & set(result.holdout_partitions)
    assert set(stop_days) <= set(result.partitions)
    model_io._load.cache_clear()
    model = model_io.load_model(cfg, result.model_version)
    assert [name for name, _ in model.steps] == ["ratios", "encode", "model"]
    assert 0 < int(run.data.params["fit.best_iteration"]) <= 40
    from driftloop.data import synth
    from tests.support.data import validated_frame

    batch = synth.generate_day(cfg, START + timedelta(days=20), synth.Scenario(), 0, 50)
    rows = validated_frame(cfg, batch)[cfg.dataset.feature_names]
    proba = model.predict_proba(rows)
    assert proba.shape == (len(rows), 2) and np.allclose(proba.sum(axis=1), 1)


def test_an_undeclared_type_is_refused_at_registration(tmp_path, monkeypatch) -> None:
    cfg = _team(tmp_path, monkeypatch, trusted_types=TEAM_TYPES[1:])
    write_days(open_store(cfg.storage), cfg, 9, rows=200)
    with pytest.raises(
        model_io.UntrustedModel,
        match=r"team_model\.features\.RatioFeatures; declare them in training\.trusted_types",
    ):
        train.train_model(cfg, START + timedelta(days=8))
    assert not mlflow_client(cfg).search_model_versions(f"name='{cfg.model_name}'")


def test_a_team_model_is_refused_at_load_when_tampered_or_no_longer_trusted(
    tmp_path, monkeypatch
) -> None:
    cfg = _team(tmp_path, monkeypatch)
    write_days(open_store(cfg.storage), cfg, 9, rows=200)
    version = train.train_model(cfg, START + timedelta(days=8)).model_version
    root = Path(cfg.artifact_location().removeprefix("file://"))
    (artifact,) = root.rglob(model_io.MODEL_FILE)
    pristine = artifact.read_bytes()
    artifact.write_bytes(pristine[:-1] + bytes([pristine[-1] ^ 1]))
    model_io._load.cache_clear()
    with pytest.raises(model_io.UntrustedModel, match="modified after registration"):
        model_io.load_model(cfg, version)
    artifact.write_bytes(pristine)
    # The same version under a config that stopped declaring the team's class: refused.
    monkeypatch.setenv("DRIFTLOOP__TRAINING__TRUSTED_TYPES", json.dumps(TEAM_TYPES[1:]))
    narrowed = load_config(cfg.source)
    with pytest.raises(
        model_io.UntrustedModel,
        match=r"registered with types this config does not trust: team_model\.features",
    ):
        model_io.load_model(narrowed, version)
    model_io._load.cache_clear()
    assert hasattr(model_io.load_model(cfg, version), "predict_proba")  # untouched: loads


@pytest.mark.parametrize("algorithm", ["lightgbm", "xgboost"])
def test_boosters_use_native_categories_and_round_trip(cfg_factory, algorithm) -> None:
    import skops.io

    from driftloop.data import synth
    from tests.support.data import validated_frame

    cfg = cfg_factory(TRAINING__ALGORITHM=algorithm, TRAINING__HYPERPARAMETERS="{n_estimators: 20}")
    batch = synth.generate_day(cfg, START, synth.Scenario(), 0, 600)
    frame = validated_frame(cfg, batch).merge(batch.labels, on=cfg.dataset.id_column)
    model = pipeline.build_pipeline(cfg)
    x = frame[cfg.dataset.feature_names]
    fit = pipeline.pipeline_fit_params(cfg, pipeline.choose_model(cfg))
    model.fit(x, pipeline.target(frame, cfg), **fit)
    codes = model.named_steps["preprocess"].transform(x)
    n_num = len(cfg.dataset.numeric)
    assert codes.shape[1] == len(cfg.dataset.feature_names)  # no one-hot: one column a feature
    booster = model.named_steps["model"]
    if algorithm == "lightgbm":
        assert fit == {"model__categorical_feature": list(range(n_num, codes.shape[1]))}
        assert booster.booster_.dump_model()["feature_infos"]  # trained
    else:
        assert booster.get_booster().feature_types == ["q"] * n_num + ["c"] * (
            codes.shape[1] - n_num
        )
    loaded = skops.io.loads(skops.io.dumps(model), trusted=list(model_io.PROJECT_TRUSTED_TYPES))
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))


def test_search_runs_nested_trials_and_refits_the_best(cfg_factory) -> None:
    search = {
        "method": "random",
        "n_trials": 3,
        "cv_splits": 2,
        "params": {"num_leaves": [4, 8], "learning_rate": {"low": 0.05, "high": 0.3, "log": True}},
    }
    cfg = cfg_factory(
        TRAINING__ALGORITHM="lightgbm",
        TRAINING__HYPERPARAMETERS="{n_estimators: 20}",
        TRAINING__SEARCH=json.dumps(search),
    )
    write_days(open_store(cfg.storage), cfg, 9, rows=200)
    result = train.train_model(cfg, START + timedelta(days=8))
    client = mlflow_client(cfg)
    run = client.get_run(result.run_id)
    trials = client.search_runs(
        [result.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(trials) == 3 == int(run.data.params["search.trials_run"])
    best = max(trials, key=lambda r: r.data.metrics["cv_roc_auc"])
    assert run.data.params["search.best.model__num_leaves"] == best.data.params["model__num_leaves"]
    assert run.data.metrics["search_best_cv_roc_auc"] == pytest.approx(
        best.data.metrics["cv_roc_auc"]
    )
    assert run.data.metrics["search_seconds"] > 0
    model_io._load.cache_clear()
    model = model_io.load_model(cfg, result.model_version)
    assert model.named_steps["model"].num_leaves == int(best.data.params["model__num_leaves"])


def test_search_stops_at_its_time_budget(cfg_factory) -> None:
    """With a budget spent by the first candidate, no second one starts (halving: no 2nd round)."""
    from driftloop.data.windows import time_split, training_frame
    from driftloop.model import search

    for method in ("random", "halving"):
        spec = {"method": method, "n_trials": 6, "time_budget_seconds": 1e-6, "cv_splits": 2}
        spec["params"] = {"max_depth": [2, 3, 4, 5, 6, 7]}
        cfg = cfg_factory(TRAINING__SEARCH=json.dumps(spec))
        if method == "random":
            write_days(open_store(cfg.storage), cfg, 9, rows=200)
        end = START + timedelta(days=8)
        frame, days = training_frame(cfg, end, cfg.training.window_days)
        part = time_split(frame, days, cfg.training.holdout_days).train
        found = search.run_search(
            cfg, pipeline.build_pipeline(cfg), part, pipeline.target(part, cfg), builtin=True
        )
        rounds = {t["n_resources"] for t in found.trials}
        assert len(found.trials) == 1 if method == "random" else len(rounds) == 1, found.trials


def test_pipelines_command_runs_the_full_check(tmp_path, monkeypatch, capsys) -> None:
    """``driftloop pipelines`` imports and calls the function (the DAG factory only finds it)."""
    from driftloop.cli.main import main

    path = _team_config(tmp_path, monkeypatch, model="team_model.model:build")
    assert main(["pipelines", "--configs", str(path)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["pipelines"]
    assert listed["model"] == "team_model.model:build"
    (path.parent / "wrong.py").write_text("def build(spec):\n    return None\n")
    data = yaml.safe_load(path.read_text())
    data["training"]["model"] = "wrong:build"
    path.write_text(yaml.safe_dump(data))
    assert main(["pipelines", "--configs", str(path)]) == 2
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert errors == {
        str(path): "training.model: returned NoneType, which has no fit, get_params, predict_proba "
        "(task binary needs an unfitted scikit-learn estimator with fit, get_params, predict_proba)"
    }
