"""Great Expectations validation of a batch against the committed expectation suite.

The GX project lives in the repository's ``great_expectations/`` folder (``cfg.gx_root()``): a File
Data Context whose expectation suite (``expectations/<suite>.json``) and checkpoint
(``checkpoints/<suite>.json``) are committed JSON, reviewed like code.

At run time we do *not* open that folder as a file context. We build an ephemeral context that
loads the committed suite and checkpoint JSON, adds the in-memory pandas data source the batch needs,
and writes validation results and Data Docs under ``cfg.data_docs_dir()``. Why: a file context
writes into its own folder (validation results, data docs, and asset ids when a data source is
added), which would churn git, race between parallel workers, and fail on a read-only image. The
committed files are only ever read here; ``write_gx_project`` regenerates them from the config.

The suite records the config values it was generated from (``meta.config_inputs``). Before a batch
is validated, those are compared with the effective config (file plus ``DRIFTLOOP__*`` overrides):
a difference means a setting the suite does not reflect, e.g. ``DRIFTLOOP__VALIDATION__MIN_ROWS=10``
against a suite generated with 200, which would otherwise be ignored silently. Validation refuses
with ``SuiteOutOfDate`` (exit 2) naming the keys, until ``driftloop gx-suite`` regenerates the suite.
Hand edits of the expectations themselves stay possible: only the recorded inputs are compared.

One expectation is added at run time, not committed, because its bounds depend on the partition:
event timestamps must lie within the partition's UTC day, give or take
``validation.partition_tolerance_hours`` (``expect_column_values_to_be_between`` on the timestamp
column). ``validation.out_of_partition`` says whether a violation fails the batch (``quarantine``)
or, as a warning-severity expectation, is reported and counted but accepted (``warn``).

GX takes seconds to import, so it is imported inside functions only.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.core.config import ENV_PREFIX, FeatureType, PipelineConfig
from driftloop.core.errors import EXIT_USAGE, DriftloopError
from driftloop.core.storage import as_date

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

DATASOURCE = "driftloop"
ASSET = "batch"
BATCH_DEFINITION = "whole_batch"
DOCS_SITE = "driftloop"
SAMPLE_SIZE = 5

# Column types as GX's expect_column_values_to_be_of_type observes them on the typed raw frame
# (pandas 3: strings are ``str``; a tz-aware timestamp column is observed element-wise).
GX_TYPES = {"string": "str", "timestamp": "Timestamp", "numeric": "float64"}
# The partition-window check, reported like an expectation (it runs beside the GX suite).
WINDOW_CHECK = "expect_timestamps_within_partition_day"


class SuiteNotFound(DriftloopError, FileNotFoundError):
    """The committed expectation suite (or checkpoint) JSON is missing from the GX project."""

    exit_code = EXIT_USAGE


class SuiteOutOfDate(DriftloopError, ValueError):
    """The committed suite was generated from other config values than the effective config's."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Failure:
    """One failed expectation, summarised for people."""

    expectation: str
    column: str | None
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list[Any]
    observed: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = f"{self.column}: " if self.column else ""
        args = ", ".join(
            f"{k}={v}"
            for k, v in self.kwargs.items()
            if k not in ("column", "batch_id", "value_set", "column_set")
        )
        text = f"{where}{self.expectation}" + (f" ({args})" if args else "")
        if self.unexpected_count is not None:
            pct = (
                f" ({self.unexpected_percent:.1f}%)" if self.unexpected_percent is not None else ""
            )
            text += f": {self.unexpected_count} unexpected rows{pct}"
            if self.sample:
                text += f", e.g. {self.sample}"
        elif self.observed is not None:
            text += f": observed {self.observed}"
        return text


@dataclass(frozen=True)
class ValidationOutcome:
    """The verdict on one batch, with what a person needs to act on a failure."""

    success: bool
    suite: str
    rows: int
    evaluated: int
    failures: list[Failure]
    result: dict[str, Any]
    docs_url: str | None = None
    # Checks that failed but do not fail the batch (``validation.out_of_partition: warn``).
    warnings: list[Failure] = field(default_factory=list)

    @property
    def out_of_partition_rows(self) -> int:
        """Rows whose timestamp lies outside the partition day (failed or only warned about)."""
        return sum(
            f.unexpected_count or 0
            for f in [*self.failures, *self.warnings]
            if f.expectation == WINDOW_CHECK
        )

    @property
    def summary(self) -> str:
        if self.success:
            head = (
                f"{self.evaluated} expectations of suite {self.suite!r} passed on {self.rows} rows"
            )
            if self.warnings:
                head += f" with {len(self.warnings)} warning(s)"
            return "; ".join([head, *(f"warning: {w.describe()}" for w in self.warnings)])
        head = (
            f"{len(self.failures)} of {self.evaluated} expectations of suite {self.suite!r} "
            f"failed on {self.rows} rows"
        )
        return "; ".join(
            [head, *(f.describe() for f in self.failures)]
            + [f"warning: {w.describe()}" for w in self.warnings]
        )


# -- the suite, derived from the config ----------------------------------------------------------
def suite_definition(cfg: PipelineConfig) -> dict[str, Any]:
    """The expectation suite for ``cfg``'s dataset, as GX suite JSON (deterministic: no ids).

    Schema (exact column set), types, non-null id/timestamp/non-nullable features, null fraction of
    nullable features at most ``max_null_fraction`` (via ``mostly``), numeric ranges, allowed
    categories, row count bounds and unique ids.
    """
    ds, v = cfg.dataset, cfg.validation
    columns = [ds.id_column, ds.timestamp_column, *ds.feature_names]
    exps: list[dict[str, Any]] = [
        _exp("expect_table_columns_to_match_set", column_set=columns, exact_match=True),
        _exp("expect_table_row_count_to_be_between", min_value=v.min_rows, max_value=v.max_rows),
        _exp("expect_column_values_to_not_be_null", column=ds.id_column),
        _exp("expect_column_values_to_be_unique", column=ds.id_column),
        _exp("expect_column_values_to_be_of_type", column=ds.id_column, type_=GX_TYPES["string"]),
        _exp("expect_column_values_to_not_be_null", column=ds.timestamp_column),
        _exp(
            "expect_column_values_to_be_of_type",
            column=ds.timestamp_column,
            type_=GX_TYPES["timestamp"],
        ),
    ]
    for f in ds.features:
        numeric = f.type is FeatureType.NUMERIC
        kind = "numeric" if numeric else "string"
        exps.append(_exp("expect_column_values_to_be_of_type", column=f.name, type_=GX_TYPES[kind]))
        if f.nullable:
            mostly = round(1.0 - v.max_null_fraction, 6)
            exps.append(_exp("expect_column_values_to_not_be_null", column=f.name, mostly=mostly))
        else:
            exps.append(_exp("expect_column_values_to_not_be_null", column=f.name))
        if numeric and (f.min is not None or f.max is not None):
            exps.append(
                _exp(
                    "expect_column_values_to_be_between",
                    column=f.name,
                    min_value=f.min,
                    max_value=f.max,
                )
            )
        if not numeric and f.categories:
            exps.append(
                _exp("expect_column_values_to_be_in_set", column=f.name, value_set=f.categories)
            )
    return {
        "name": v.suite,
        "expectations": exps,
        "meta": {
            "generated_from": f"pipeline config {cfg.name!r} (driftloop gx-suite)",
            "config_inputs": suite_inputs(cfg),
        },
        "notes": "Generated from the pipeline config; edit the config and run `driftloop gx-suite`.",
    }


def suite_inputs(cfg: PipelineConfig) -> dict[str, Any]:
    """The config values ``suite_definition`` reads, by dotted key (recorded in the suite's meta).

    Only these are compared at run time, so hand edits of the expectations remain possible while a
    changed config value (in the file or from the environment) cannot be ignored silently.
    """
    ds, v = cfg.dataset, cfg.validation
    inputs: dict[str, Any] = {
        "validation.min_rows": v.min_rows,
        "validation.max_rows": v.max_rows,
        "validation.max_null_fraction": v.max_null_fraction,
        "dataset.id_column": ds.id_column,
        "dataset.timestamp_column": ds.timestamp_column,
    }
    for f in ds.features:
        inputs[f"dataset.features.{f.name}"] = f.model_dump(mode="json", exclude={"critical"})
    # Normalised through JSON so that it compares equal to what was read back from the file.
    return json.loads(json.dumps(inputs, sort_keys=True))


def check_suite_matches_config(cfg: PipelineConfig, suite_json: dict[str, Any]) -> None:
    """Refuse (``SuiteOutOfDate``) a committed suite generated from other config values.

    A suite without recorded inputs (written by hand) is used as it is, with a warning that the
    config's validation keys are not checked against it.
    """
    recorded = (suite_json.get("meta") or {}).get("config_inputs")
    path = suite_path(cfg)
    if recorded is None:
        log.warning(
            "suite %s records no config_inputs (written by hand?): the config's validation keys "
            "are not checked against it; `driftloop gx-suite` generates one that is",
            path,
        )
        return
    current = suite_inputs(cfg)
    differing = sorted(
        k for k in recorded.keys() | current.keys() if recorded.get(k) != current.get(k)
    )
    if not differing:
        return
    parts = []
    for key in differing:
        env = ENV_PREFIX + key.replace(".", "__").upper()
        source = f" (set by {env})" if env in os.environ else ""
        if key.startswith("dataset.features.") and f"{ENV_PREFIX}DATASET__FEATURES" in os.environ:
            source = f" (set by {ENV_PREFIX}DATASET__FEATURES)"
        parts.append(
            f"{key}: suite {recorded.get(key, '(absent)')!r}, "
            f"config {current.get(key, '(absent)')!r}{source}"
        )
    raise SuiteOutOfDate(
        f"the committed expectation suite {path} does not match the effective config "
        f"({'; '.join(parts)}), so these settings would be ignored: run `driftloop gx-suite` to "
        "regenerate the suite from the config (and commit it), or drop the override"
    )


def partition_window(cfg: PipelineConfig, day: date) -> tuple[datetime, datetime]:
    """[start, end) of the timestamps accepted in ``day``'s partition: its UTC day +- tolerance."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    tolerance = timedelta(hours=cfg.validation.partition_tolerance_hours)
    return start - tolerance, start + timedelta(days=1) + tolerance


def _window_expectation(cfg: PipelineConfig, day: date) -> Any:
    """The partition-window check as a GX expectation (bounds of ``day``; not in the committed
    suite, since they change with every partition). ``warn`` makes it a warning-severity one."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    import great_expectations as gx

    lo, hi = partition_window(cfg, day)
    v = cfg.validation
    return gx.expectations.ExpectColumnValuesToBeBetween(
        column=cfg.dataset.timestamp_column,
        min_value=lo,
        max_value=hi,
        strict_max=True,
        severity=FailureSeverity.WARNING
        if v.out_of_partition == "warn"
        else FailureSeverity.CRITICAL,
        meta={
            "driftloop_check": WINDOW_CHECK,
            "tolerance_hours": v.partition_tolerance_hours,
            "handling": v.out_of_partition,
        },
    )


def _exp(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": {k: v for k, v in kwargs.items() if v is not None}, "meta": {}}


def checkpoint_definition(cfg: PipelineConfig) -> dict[str, Any]:
    """The committed checkpoint: validate the batch with the suite, then update Data Docs."""
    return {
        "name": cfg.validation.suite,
        "validation_definitions": [{"name": cfg.validation.suite}],
        "actions": [{"name": "update_data_docs", "type": "update_data_docs", "site_names": []}],
        "result_format": {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
    }


def suite_path(cfg: PipelineConfig) -> Path:
    return cfg.gx_root() / "expectations" / f"{cfg.validation.suite}.json"


def checkpoint_path(cfg: PipelineConfig) -> Path:
    return cfg.gx_root() / "checkpoints" / f"{cfg.validation.suite}.json"


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def _generated(cfg: PipelineConfig) -> dict[Path, str]:
    return {
        suite_path(cfg): _dump(suite_definition(cfg)),
        checkpoint_path(cfg): _dump(checkpoint_definition(cfg)),
    }


def stale_gx_files(cfg: PipelineConfig) -> list[Path]:
    """Committed GX files that differ from what the config generates (hand edits show up here)."""
    return [p for p, text in _generated(cfg).items() if not p.exists() or p.read_text() != text]


def write_gx_project(cfg: PipelineConfig) -> list[Path]:
    """(Re)write the suite and checkpoint JSON of ``cfg`` into the GX project; returns changed files.

    Output is deterministic, so regenerating from an unchanged config leaves git clean. This is
    the bring-your-own-data path: describe the columns in the config, then run ``driftloop gx-suite``.
    """
    changed = stale_gx_files(cfg)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_generated(cfg)[path])
    return changed


def committed_suite(cfg: PipelineConfig) -> dict[str, Any]:
    """The committed suite JSON, checked against the effective config (see the module docstring)."""
    suite_json = _read_committed(suite_path(cfg), "expectation suite")
    check_suite_matches_config(cfg, suite_json)
    return suite_json


def _read_committed(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteNotFound(
            f"{what} {path} not found: commit it, or generate it with `driftloop gx-suite`"
        ) from None


# -- running ---------------------------------------------------------------------------------------
def _context(docs_dir: Path) -> Any:
    """An ephemeral GX context whose results and Data Docs persist under ``docs_dir``."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    import great_expectations as gx

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),  # task logs, not a terminal
    )
    # Results persist beside the site so its index lists every partition validated so far.
    config.stores["validation_results_store"] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir / "_validation_results"),
        },
    }
    config.validation_results_store_name = "validation_results_store"
    return gx.get_context(project_config=config, mode="ephemeral")


def validate_frame(
    cfg: PipelineConfig, df: pd.DataFrame, partition: str | date
) -> ValidationOutcome:
    """Validate ``df`` (the typed batch of ``partition``) with the committed suite and checkpoint.

    The run is named after the partition, so a rerun replaces its Data Docs page instead of adding
    one. Returns the verdict; never raises for bad data. Raises ``SuiteNotFound`` or
    ``SuiteOutOfDate`` (both exit 2) when the committed suite is missing or does not match the
    effective config.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    import great_expectations as gx

    suite_json = committed_suite(cfg)
    checkpoint_json = _read_committed(checkpoint_path(cfg), "checkpoint")
    day = as_date(partition)
    docs_dir = cfg.data_docs_dir()
    docs_dir.mkdir(parents=True, exist_ok=True)

    ctx = _context(docs_dir)
    suite_json = {k: v for k, v in suite_json.items() if k != "id"}
    suite = ctx.suites.add(gx.ExpectationSuite(**suite_json))
    suite.add_expectation(_window_expectation(cfg, day))
    batch_def = (
        ctx.data_sources.add_pandas(DATASOURCE)
        .add_dataframe_asset(ASSET)
        .add_batch_definition_whole_dataframe(BATCH_DEFINITION)
    )
    vdef = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_def, suite=suite)
    )
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=checkpoint_json["name"],
            validation_definitions=[vdef],
            actions=checkpoint_json.get("actions", []),
            result_format=checkpoint_json.get("result_format", "SUMMARY"),
        )
    )
    run_id = RunIdentifier(
        run_name=f"partition={day.isoformat()}",
        run_time=datetime(day.year, day.month, day.day, tzinfo=UTC),
    )
    result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
    (identifier, suite_result), *_ = result.run_results.items()
    urls = ctx.get_docs_sites_urls(resource_identifier=identifier, site_names=[DOCS_SITE])
    outcome = _outcome(suite.name, len(df), suite_result.to_json_dict(), urls)
    for w in outcome.warnings:
        log.warning("partition %s accepted with a warning: %s", day, w.describe())
    log.info(
        "validated %s: %d rows, %d expectations of %s, %s%s",
        day,
        outcome.rows,
        outcome.evaluated,
        suite.name,
        "passed" if outcome.success else f"{len(outcome.failures)} failed",
        "".join(f"; {f.expectation}({f.column or ''})" for f in outcome.failures[:5]),
    )
    return outcome


def _outcome(
    suite: str, rows: int, result: dict[str, Any], urls: list[dict[str, Any]]
) -> ValidationOutcome:
    failures: list[Failure] = []
    warnings: list[Failure] = []
    for r in result["results"]:
        if r["success"]:
            continue
        conf, res = r["expectation_config"], r.get("result") or {}
        kwargs = {k: v for k, v in conf["kwargs"].items() if k != "batch_id"}
        meta = conf.get("meta") or {}
        if "tolerance_hours" in meta:
            kwargs["tolerance_hours"] = meta["tolerance_hours"]
        if r.get("exception_info", {}).get("raised_exception"):
            res = {"observed_value": r["exception_info"].get("exception_message")}
        # A warning-severity expectation that fails is reported, not failed on.
        found = warnings if conf.get("severity") == "warning" else failures
        found.append(
            Failure(
                expectation=meta.get("driftloop_check") or conf["type"],
                column=kwargs.get("column"),
                unexpected_count=res.get("unexpected_count"),
                unexpected_percent=res.get("unexpected_percent"),
                sample=[v for v in res.get("partial_unexpected_list") or [] if v is not None][
                    :SAMPLE_SIZE
                ],
                observed=res.get("observed_value"),
                kwargs=kwargs,
            )
        )
    return ValidationOutcome(
        success=bool(result["success"]) or not failures,
        suite=suite,
        rows=rows,
        evaluated=int(result["statistics"]["evaluated_expectations"]),
        failures=failures,
        result=result,
        docs_url=next((u.get("site_url") for u in urls if u.get("site_url")), None),
        warnings=warnings,
    )
