"""Registered models on disk: written in one format, checksummed, and loaded only if untouched.

A model artifact lives in the artifact store (a folder, MinIO/S3), which is not necessarily as
trusted as the code. MLflow's own loader honours whatever ``serialization_format`` the artifact's
``MLmodel`` file names (pickle included) and reads the skops trusted-type list from that same file,
so whoever can write the artifact can run code in the scoring process. This module never asks the
artifact how to load it:

* The only format is skops (``model.skops``), loaded with :data:`PROJECT_TRUSTED_TYPES`, a list the
  project holds. Pickle and cloudpickle are refused, whatever the ``MLmodel`` file says.
* A pipeline whose model holds other types (a team's transformer, its booster) declares them in
  ``training.trusted_types``, which is reviewed with the config. At registration the types the
  model needs are recorded on the version (:data:`TAG_TRUSTED_TYPES`); a model needing a type that
  neither list holds is refused. At load the recorded list must be covered by the config's, and
  only the recorded types are trusted.
* At registration the sha256 of ``model.skops`` is recorded as a model-version tag
  (:data:`TAG_SHA256`, in the registry database, not beside the artifact). At load the file must
  have that checksum, and be a skops archive, before a single byte of it is deserialized.

Every refusal raises :class:`UntrustedModel` with a one-line reason.
"""

from __future__ import annotations

import functools
import hashlib
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.core.errors import EXIT_REFUSED, DriftloopError
from driftloop.tracking.mlflow import (
    TAG_SHA256,
    TAG_TRUSTED_TYPES,
    download,
    mlflow_client,
    uri_client,
)

if TYPE_CHECKING:
    from driftloop.core.config import PipelineConfig

MODEL_FILE = "model.skops"
SKOPS = "skops"

# The types skops does not trust by default that the project's own estimators contain: the
# preprocessing pipeline (imputers, scaler, one-hot encoder, column transformer) needs only numpy's
# dtype; the tree ensembles add their tree objects. Kept by the project, never read from an
# artifact; a unit test checks that every configurable algorithm round-trips with exactly this list,
# and registration refuses a model that would need more.
PROJECT_TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    # The lightgbm and xgboost families: the estimators and their boosters (skops persists them
    # through their own save formats); LightGBM keeps its parameters in an OrderedDict.
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
)
TRUSTED_TYPES_KEY = "training.trusted_types"

_CHUNK = 1 << 20


class UntrustedModel(DriftloopError, RuntimeError):
    """A model artifact is refused: wrong format, unknown types, or not the bytes registered."""

    exit_code = EXIT_REFUSED


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def trusted_types(cfg: PipelineConfig | None = None) -> tuple[str, ...]:
    """The project's list plus the types ``cfg`` declares in ``training.trusted_types``."""
    declared = cfg.training.trusted_types if cfg is not None else []
    return (*PROJECT_TRUSTED_TYPES, *(t for t in declared if t not in PROJECT_TRUSTED_TYPES))


def needed_types(model: Any) -> list[str]:
    """The types of ``model`` that skops does not trust by default (what loading must trust)."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def untrusted_types(model: Any, trusted: tuple[str, ...] = PROJECT_TRUSTED_TYPES) -> list[str]:
    """Types in ``model`` that ``trusted`` does not cover (empty = loadable)."""
    return sorted(set(needed_types(model)) - set(trusted))


def check_registrable(model: Any, cfg: PipelineConfig | None = None) -> list[str]:
    """Refuse to register a model the project could not load again; return the types it needs.

    Raises:
        UntrustedModel: the model contains types outside :data:`PROJECT_TRUSTED_TYPES` and the
            config's ``training.trusted_types``; the message names them and the key.
    """
    needed = needed_types(model)
    extra = sorted(set(needed) - set(trusted_types(cfg)))
    if extra:
        raise UntrustedModel(
            f"the model contains types the project does not trust: {', '.join(extra)}; "
            f"declare them in {TRUSTED_TYPES_KEY} of the pipeline's config after review"
        )
    return needed


def record_trusted_types(tracking_uri: str, name: str, version: str, types: list[str]) -> None:
    """Record the types a version needs on it (:data:`TAG_TRUSTED_TYPES`, in the registry)."""
    uri_client(tracking_uri).set_model_version_tag(
        name, str(version), TAG_TRUSTED_TYPES, json.dumps(sorted(types))
    )


def covered_types(recorded: str | None, trusted: tuple[str, ...], what: str) -> list[str]:
    """The types to trust when loading a version: its recorded list, which ``trusted`` (the
    config's) must cover; a version with no record (older) gets :data:`PROJECT_TRUSTED_TYPES`.

    Raises:
        UntrustedModel: the record is unreadable or holds a type the config does not declare.
    """
    if recorded is None:
        return list(PROJECT_TRUSTED_TYPES)
    try:
        types = json.loads(recorded)
    except ValueError:
        types = None
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise UntrustedModel(f"{what}: unreadable tag {TAG_TRUSTED_TYPES}; refusing to load it")
    missing = sorted(set(types) - set(trusted))
    if missing:
        raise UntrustedModel(
            f"{what}: registered with types this config does not trust: {', '.join(missing)}; "
            f"declare them in {TRUSTED_TYPES_KEY} after review, or retrain; refusing to load it"
        )
    return types


def load_verified(
    directory: str | Path,
    expected_sha256: str | None,
    what: str,
    trusted: list[str] | tuple[str, ...] = PROJECT_TRUSTED_TYPES,
) -> Any:
    """Load ``<directory>/model.skops`` after checking format, checksum and archive.

    Args:
        directory: a downloaded model artifact (``MLmodel`` + ``model.skops``).
        expected_sha256: the checksum recorded at registration (None: none was recorded).
        what: how to name the model in errors (``"churn v3"``).
        trusted: the types skops may build (never read from the artifact).

    Raises:
        UntrustedModel: on any mismatch; nothing from the artifact has been deserialized then.
    """
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    directory = Path(directory)
    _check_mlmodel(directory / "MLmodel", what)
    path = directory / MODEL_FILE
    if not path.is_file():
        raise UntrustedModel(f"{what}: the artifact has no {MODEL_FILE}; refusing to load it")
    if not expected_sha256:
        raise UntrustedModel(
            f"{what}: no checksum was recorded at registration (tag {TAG_SHA256}); "
            "retrain to register a verifiable version"
        )
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise UntrustedModel(
            f"{what}: {MODEL_FILE} has sha256 {actual[:12]}…, registered {expected_sha256[:12]}…: "
            "the artifact was modified after registration; refusing to load it"
        )
    if not zipfile.is_zipfile(path):
        raise UntrustedModel(f"{what}: {MODEL_FILE} is not a skops archive; refusing to load it")
    try:
        return skops.io.load(path, trusted=list(trusted))
    except UntrustedTypesFoundException as err:
        raise UntrustedModel(f"{what}: {err}".splitlines()[0]) from None
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as err:
        raise UntrustedModel(f"{what}: {MODEL_FILE} is not a valid skops model: {err}") from None


def _check_mlmodel(mlmodel: Path, what: str) -> None:
    """The artifact must declare the sklearn flavor in skops format under the project's file name.

    The loader does not act on this file (it always loads ``model.skops`` with the project's types);
    a different declaration means the artifact was not written by the project, so it is refused.
    """
    import yaml

    if not mlmodel.is_file():
        raise UntrustedModel(f"{what}: the artifact has no MLmodel file; refusing to load it")
    try:
        flavor = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {}).get("sklearn", {})
    except (yaml.YAMLError, AttributeError, UnicodeDecodeError) as err:
        raise UntrustedModel(f"{what}: unreadable MLmodel file: {err}".splitlines()[0]) from None
    fmt = flavor.get("serialization_format")
    if fmt != SKOPS:
        raise UntrustedModel(
            f"{what}: MLmodel declares serialization_format {fmt!r}; only {SKOPS!r} is ever "
            "loaded (pickle is never deserialized); refusing to load it"
        )
    if flavor.get("pickled_model") != MODEL_FILE:
        raise UntrustedModel(
            f"{what}: MLmodel names model file {flavor.get('pickled_model')!r}, "
            f"not {MODEL_FILE!r}; refusing to load it"
        )


def load_registered(
    tracking_uri: str,
    name: str,
    version: str,
    trusted: tuple[str, ...] = PROJECT_TRUSTED_TYPES,
) -> Any:
    """Download a registered version and load it through :func:`load_verified`.

    ``trusted`` is what the pipeline's config trusts (:func:`trusted_types`); the version's recorded
    types must be among them (:func:`covered_types`).

    Raises:
        UntrustedModel: the artifact is refused (see :func:`load_verified`).
    """
    import tempfile

    client = uri_client(tracking_uri)
    tags = client.get_model_version(name, str(version)).tags or {}
    what = f"{name} v{version}"
    types = covered_types(tags.get(TAG_TRUSTED_TYPES), trusted, what)
    with tempfile.TemporaryDirectory(prefix="driftloop-model-") as tmp:
        local = download(tracking_uri, f"models:/{name}/{version}", tmp)
        return load_verified(local, tags.get(TAG_SHA256), what, types)


def record_checksum(tracking_uri: str, name: str, version: str) -> str:
    """Hash the registered version's ``model.skops`` as stored and record it (:data:`TAG_SHA256`).

    The file is read back from the artifact store, so the checksum covers the bytes that a later
    load will download. Returns the hex digest.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="driftloop-model-") as tmp:
        digest = sha256_file(download(tracking_uri, f"models:/{name}/{version}/{MODEL_FILE}", tmp))
    uri_client(tracking_uri).set_model_version_tag(name, str(version), TAG_SHA256, digest)
    return digest


def load_model(cfg: PipelineConfig, version: str) -> Any:
    """The fitted estimator of a registered version (cached: versions are immutable).

    A team's classes are imported from the config's folder or an installed package, like its model
    function; only the types the config trusts are built.
    """
    from driftloop.model.contract import make_importable

    mlflow_client(cfg)  # points the loader at the pipeline's store
    make_importable(cfg)
    return _load(cfg.tracking_uri(), cfg.model_name, str(version), trusted_types(cfg))


@functools.lru_cache(maxsize=4)
def _load(tracking_uri: str, name: str, version: str, trusted: tuple[str, ...]) -> Any:
    # Never mlflow.sklearn.load_model: it deserializes whatever format the artifact names.
    return load_registered(tracking_uri, name, version, trusted)


__all__ = [
    "MODEL_FILE",
    "PROJECT_TRUSTED_TYPES",
    "SKOPS",
    "TRUSTED_TYPES_KEY",
    "UntrustedModel",
    "check_registrable",
    "covered_types",
    "load_model",
    "load_registered",
    "load_verified",
    "needed_types",
    "record_checksum",
    "record_trusted_types",
    "sha256_file",
    "trusted_types",
    "untrusted_types",
]
