"""Model loading: only the project's skops format and types, only the registered bytes, no code run."""

from __future__ import annotations

import os
import pickle
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from driftloop.core.config import Algorithm
from driftloop.core.storage import open_store
from driftloop.data import synth
from driftloop.model import model_io, pipeline, registry, train
from driftloop.tracking.mlflow import TAG_SHA256, mlflow_client
from tests.support.data import START, validated_frame, write_days

FAST = {
    "TRAINING__ALGORITHM": "logistic_regression",
    "TRAINING__HYPERPARAMETERS": "{}",
    "TRAINING__MIN_TRAIN_ROWS": "500",
}
SMALL = {
    Algorithm.LOGISTIC_REGRESSION: {},
    Algorithm.LINEAR: {},
    Algorithm.GRADIENT_BOOSTING: {"max_iter": 10, "max_depth": 3},
    Algorithm.RANDOM_FOREST: {"n_estimators": 5, "max_depth": 4},
    Algorithm.LIGHTGBM: {"n_estimators": 5},
    Algorithm.XGBOOST: {"n_estimators": 5, "max_depth": 3},
}


def test_every_configurable_algorithm_round_trips_with_the_project_list(cfg) -> None:
    import skops.io

    needed: set[str] = set()
    assert set(SMALL) == set(Algorithm)  # a new algorithm must be added here (and maybe the list)
    for task in ("binary", "multiclass", "regression"):
        task_cfg = cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update={"task": task})})
        batch = synth.generate_day(task_cfg, START, synth.Scenario(), 0, 400)
        frame = validated_frame(task_cfg, batch).merge(batch.labels, on=cfg.dataset.id_column)
        x, y = frame[cfg.dataset.feature_names], pipeline.target(frame, task_cfg)
        for name in pipeline.algorithms_for(task):
            algorithm = Algorithm(name)
            model = pipeline.build_pipeline(task_cfg, algorithm, SMALL[algorithm]).fit(x, y)
            data = skops.io.dumps(model)
            needed |= set(skops.io.get_untrusted_types(data=data))
            assert model_io.untrusted_types(model) == []
            loaded = skops.io.loads(data, trusted=list(model_io.PROJECT_TRUSTED_TYPES))
            predict = "predict" if task == "regression" else "predict_proba"
            np.testing.assert_array_equal(getattr(loaded, predict)(x), getattr(model, predict)(x))
    # The list is exactly what the project's estimators need: nothing trusted "just in case".
    assert needed == set(model_io.PROJECT_TRUSTED_TYPES)


def test_registration_refuses_a_model_with_types_outside_the_list(cfg) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = Pipeline([("f", FunctionTransformer(func=os.system))])
    with pytest.raises(model_io.UntrustedModel, match=r"(posix|nt)\.system"):
        model_io.check_registrable(model)


class _Payload:
    """Unpickling this creates ``marker``: stands for any code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _artifact_dir(cfg) -> Path:
    root = Path(cfg.artifact_location().removeprefix("file://"))
    (found,) = root.rglob(model_io.MODEL_FILE)  # one trained model in this store
    return found.parent


def test_registered_checksum_is_verified_and_tampered_artifacts_are_refused_with_no_code_run(
    cfg_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    cfg = cfg_factory(**FAST)
    write_days(open_store(cfg.storage), cfg, 9, rows=200)
    result = train.train_model(cfg, START + timedelta(days=8))
    version = result.model_version
    client = mlflow_client(cfg)
    art = _artifact_dir(cfg)
    recorded = registry.get_version(cfg, version).tags[TAG_SHA256]
    assert recorded == model_io.sha256_file(art / model_io.MODEL_FILE)

    # MLflow's own pickle switch-off does not get in the way of the project's loader.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    model_io._load.cache_clear()
    assert hasattr(model_io.load_model(cfg, version), "predict_proba")
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")

    pristine = tmp_path / "pristine"
    shutil.copytree(art, pristine)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    pickle.loads(payload)  # control: the payload really runs code when unpickled
    assert marker.exists()
    marker.unlink()

    def set_mlmodel(**changes: str) -> None:
        meta = yaml.safe_load((art / "MLmodel").read_text())
        meta["flavors"]["sklearn"].update(changes)
        (art / "MLmodel").write_text(yaml.safe_dump(meta))

    def pickle_format() -> None:
        (art / "model.pkl").write_bytes(payload)
        set_mlmodel(serialization_format="pickle", pickled_model="model.pkl")

    def pickle_format_keeping_the_file_name() -> None:
        (art / model_io.MODEL_FILE).write_bytes(payload)
        set_mlmodel(serialization_format="pickle")

    def pickle_in_model_skops() -> None:
        (art / model_io.MODEL_FILE).write_bytes(payload)

    def pickle_in_model_skops_and_checksum_forged() -> None:
        pickle_in_model_skops()
        client.set_model_version_tag(cfg.model_name, version, TAG_SHA256, _sha(art))

    def one_byte_appended() -> None:
        with open(art / model_io.MODEL_FILE, "ab") as fh:
            fh.write(b"\0")

    def untrusted_type_in_a_real_skops_file_checksum_forged() -> None:
        skops.io.dump(FunctionTransformer(func=os.system), art / model_io.MODEL_FILE)
        client.set_model_version_tag(cfg.model_name, version, TAG_SHA256, _sha(art))

    def checksum_tag_removed() -> None:
        client.delete_model_version_tag(cfg.model_name, version, TAG_SHA256)

    cases = {
        pickle_format: "serialization_format 'pickle'",
        pickle_format_keeping_the_file_name: "serialization_format 'pickle'",
        pickle_in_model_skops: "modified after registration",
        pickle_in_model_skops_and_checksum_forged: "not a skops archive",
        one_byte_appended: "modified after registration",
        untrusted_type_in_a_real_skops_file_checksum_forged: "system",
        checksum_tag_removed: "no checksum was recorded",
    }
    for tamper, reason in cases.items():
        tamper()
        model_io._load.cache_clear()
        with pytest.raises(model_io.UntrustedModel, match=reason):
            model_io.load_model(cfg, version)
        assert not marker.exists(), tamper.__name__
        if tamper is pickle_format:
            # Control: MLflow's loader would have run the payload from this very artifact.
            mlflow.sklearn.load_model(f"models:/{cfg.model_name}/{version}")
            assert marker.exists()
            marker.unlink()
        shutil.rmtree(art)
        shutil.copytree(pristine, art)
        client.set_model_version_tag(cfg.model_name, version, TAG_SHA256, recorded)

    model_io._load.cache_clear()
    assert hasattr(model_io.load_model(cfg, version), "predict_proba")  # restored: loads again


def _sha(art: Path) -> str:
    return model_io.sha256_file(art / model_io.MODEL_FILE)
