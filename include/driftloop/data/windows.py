"""Labelled training data: validated partitions joined with their (late) labels over a window.

Labels arrive ``dataset.label_delay_days`` after the events, so the newest validated days have none
yet; a window therefore uses only the days that have both partitions. A training a drift check of
day D asked for reads the labels as of D (:mod:`driftloop.data.labels`): those landed by D's
delivery, whenever it runs. The split is by time: the most
recent ``training.holdout_days`` labelled days are the holdout, never a random sample, because the
model will be used on days after the ones it was fitted on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from driftloop.core.errors import EXIT_INSUFFICIENT_DATA, DriftloopError
from driftloop.core.storage import LABELS, VALIDATED, Store, as_date, open_store
from driftloop.data.labels import label_arrivals, read_labels

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.core.config import PipelineConfig

# Added to the joined frame so the split (and the audit trail) can tell the days apart.
PARTITION_COLUMN = "_partition"


class InsufficientData(DriftloopError, ValueError):
    """The window has too few labelled rows or days to train and evaluate a model."""

    exit_code = EXIT_INSUFFICIENT_DATA


@dataclass(frozen=True)
class Split:
    """The time-based split of a labelled window."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    train_partitions: list[date]
    holdout_partitions: list[date]


def labelled_days(
    store: Store,
    start: date,
    end: date,
    labels_as_of: date | None = None,
) -> list[date]:
    """Days in ``[start, end]`` that have both a validated and a labels partition.

    ``labels_as_of``: only label days whose labels had landed by that day.
    """
    validated = {d for d in store.partitions(VALIDATED) if start <= d <= end}
    if labels_as_of is None:
        return sorted(validated.intersection(store.partitions(LABELS)))
    return sorted(validated.intersection(label_arrivals(store, labels_as_of, since=start)))


def latest_labelled_day(cfg: PipelineConfig, store: Store | None = None) -> date:
    """The newest day with both a validated and a labels partition: where a default window ends.

    Labels arrive ``dataset.label_delay_days`` late, so this is usually that many days before the
    newest validated day; the wall-clock date would give a window without its newest labels.

    Raises:
        InsufficientData: no day has labels yet.
    """
    store = store or open_store(cfg.storage)
    days = sorted(set(store.partitions(VALIDATED)).intersection(store.partitions(LABELS)))
    if not days:
        raise InsufficientData(
            f"no labelled day in {store.uri()} yet (a day needs validated/ and labels/ partitions); "
            "ingest data first or give the window end explicitly"
        )
    return days[-1]


def load_days(
    cfg: PipelineConfig,
    days: list[date],
    store: Store | None = None,
    labels_as_of: date | None = None,
) -> pd.DataFrame:
    """Validated rows of ``days`` inner-joined with their labels (rows without a label are left out).

    ``labels_as_of``: only the labels that had landed by that day (None: every label landed).
    """
    import pandas as pd

    store = store or open_store(cfg.storage)
    ds = cfg.dataset
    frames = []
    for day in days:
        features = store.read_table(VALIDATED, day)
        labels = read_labels(store, cfg, day, labels_as_of)
        joined = features.merge(labels, on=ds.id_column, how="inner", validate="one_to_one")
        joined[PARTITION_COLUMN] = day.isoformat()
        frames.append(joined)
    if not frames:
        columns = [
            ds.id_column,
            ds.timestamp_column,
            *ds.feature_names,
            ds.target,
            PARTITION_COLUMN,
        ]
        return pd.DataFrame(columns=columns)
    frame = pd.concat(frames, ignore_index=True)
    # The label type of the task: 0/1 integers, class names (strings) or values (floats).
    frame[ds.target] = frame[ds.target].astype(
        {"binary": "int64", "multiclass": "str", "regression": "float64"}[ds.task]
    )
    # A stable row order makes fits and digests reproducible whatever order the files were read in.
    return frame.sort_values([PARTITION_COLUMN, ds.id_column], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class Shortfall:
    """How far a training window is from what the trainer accepts, in numbers.

    The one rule the trainer applies (:func:`training_frame`, :func:`check_split`) and the retrain
    policy asks about before triggering (:func:`window_shortfall`), so the two never disagree.
    """

    end: date
    window_days: int
    labelled_days: int
    need_days: int
    labelled_rows: int
    need_rows: int
    detail: str
    # What else is missing when days and rows suffice (e.g. a second class): more data may fix it.
    waiting_on: str | None = None

    @property
    def more_days(self) -> int:
        """Labelled days still missing (0: enough days)."""
        return max(0, self.need_days - self.labelled_days)

    @property
    def more_rows(self) -> int:
        """Labelled rows still missing (0: enough rows)."""
        return max(0, self.need_rows - self.labelled_rows)

    def waiting_for(self) -> str:
        """``waiting for N more labelled days / M more labelled rows`` (what is missing, in numbers)."""
        parts = []
        if self.more_days:
            parts.append(f"{self.more_days} more labelled day{'s' if self.more_days > 1 else ''}")
        if self.more_rows:
            parts.append(f"{self.more_rows} more labelled row{'s' if self.more_rows > 1 else ''}")
        if not parts:
            parts.append(self.waiting_on or "more labelled data")
        return "waiting for " + " / ".join(parts)

    def __str__(self) -> str:
        return f"{self.waiting_for()} ({self.detail})"


def _window_data(
    cfg: PipelineConfig, end: date, window: int, store: Store, labels_as_of: date | None = None
) -> tuple[pd.DataFrame, list[date], Shortfall | None]:
    """The labelled rows and days of a window, and its shortfall in days or rows (None: enough)."""
    days = labelled_days(store, end - timedelta(days=window - 1), end, labels_as_of)
    frame = load_days(cfg, days, store, labels_as_of)
    need_days = cfg.training.holdout_days + 1
    need_rows = cfg.training.min_train_rows
    detail = None
    if len(days) < need_days:
        detail = (
            f"the {window}-day window ending {end} has {len(days)} labelled day(s) "
            f"({', '.join(d.isoformat() for d in days) or 'none'}); training needs at least "
            f"{need_days} ({cfg.training.holdout_days} holdout + 1). Labels arrive "
            f"{cfg.dataset.label_delay_days} days late: choose a later date or a wider window."
        )
    elif len(frame) < need_rows:
        detail = (
            f"the {window}-day window ending {end} has {len(frame)} labelled rows over "
            f"{len(days)} day(s); training.min_train_rows is {need_rows}"
        )
    if detail is None:
        return frame, days, None
    return frame, days, Shortfall(end, window, len(days), need_days, len(frame), need_rows, detail)


def training_frame(
    cfg: PipelineConfig,
    end: date | str,
    window_days: int | None = None,
    labels_as_of: date | None = None,
) -> tuple[pd.DataFrame, list[date]]:
    """The labelled rows of the ``window_days`` days ending at ``end`` (inclusive), and those days.

    ``labels_as_of``: only labels landed by that day count (a training a check of that day asked
    for); None: every label landed so far.

    Raises:
        InsufficientData: fewer than ``training.min_train_rows`` labelled rows, or not enough
            labelled days for a training part and a holdout of ``training.holdout_days`` days.
    """
    end = as_date(end)
    frame, days, short = _window_data(
        cfg, end, window_days or cfg.training.window_days, open_store(cfg.storage), labels_as_of
    )
    if short is not None:
        raise InsufficientData(short.detail)
    return frame, days


def training_window(end: date, window_days: int, since: date | str | None = None) -> int:
    """Days of a training window ending ``end``: ``since`` (e.g. a drift onset) wins over the size."""
    if since is None:
        return window_days
    window = (end - as_date(since)).days + 1
    if window < 1:
        raise ValueError(f"since {since} is after the window end {end}")
    return window


def split_shortfall(cfg: PipelineConfig, split: Split, end: date, window: int) -> Shortfall | None:
    """A training or holdout part the model cannot learn from or be measured on (None: fine).

    Classification needs two classes in each part, regression two distinct target values. A
    multiclass pipeline with ``dataset.classes`` also needs every listed class in the training part:
    a model learns the classes it sees, and one that never saw a class would have no
    ``proba_<class>`` column for it, so its predictions, prediction drift and gate comparisons would
    not line up with a champion's. Refusing (the policy waits, asking this same function) was chosen
    over padding the missing column with zeros: a zero probability is a claim the model never
    learned (it makes the log loss of any such label the clipped maximum), and padding would need a
    wrapper estimator in the model format's trusted types.
    """
    ds = cfg.dataset
    n_days = len(split.train_partitions) + len(split.holdout_partitions)
    rows = len(split.train) + len(split.holdout)

    def short(detail: str, waiting_on: str) -> Shortfall:
        return Shortfall(end, window, n_days, n_days, rows, rows, detail, waiting_on=waiting_on)

    what = "value" if ds.task == "regression" else "class"
    for part, name in ((split.train, "training"), (split.holdout, "holdout")):
        if part[ds.target].nunique() < 2:
            return short(
                f"the {name} part of the window ending {end} has one {what} only",
                f"labelled rows of a second {what}",
            )
    if ds.task == "multiclass" and ds.classes:
        seen = set(split.train[ds.target].astype(str))
        absent = ", ".join(str(c) for c in ds.classes if str(c) not in seen)
        if absent:
            return short(
                f"the training part of the window ending {end} has no row of class(es) {absent} "
                "listed in dataset.classes; a model must learn every listed class (wait for "
                "labelled rows of it, or widen the window)",
                f"labelled rows of class(es) {absent}",
            )
    return None


def window_shortfall(
    cfg: PipelineConfig,
    end: date | str,
    window_days: int | None = None,
    since: date | str | None = None,
    labels_as_of: date | None = None,
) -> Shortfall | None:
    """Why the trainer would refuse the window ending ``end`` (None: it has enough labelled data).

    The retrain policy asks this before triggering, so it never asks for a training that the
    trainer then refuses with :class:`InsufficientData`; the answer says how much more is needed.
    ``labels_as_of`` as for :func:`training_frame` (the check of a day asks with that day).
    """
    end = as_date(end)
    window = training_window(end, window_days or cfg.training.window_days, since)
    frame, days, short = _window_data(cfg, end, window, open_store(cfg.storage), labels_as_of)
    if short is not None:
        return short
    return split_shortfall(cfg, time_split(frame, days, cfg.training.holdout_days), end, window)


def time_split(frame: pd.DataFrame, partitions: list[date], holdout_days: int) -> Split:
    """Hold out the most recent ``holdout_days`` partitions (:func:`split_shortfall` says whether
    the parts can be learned from and measured on)."""
    holdout_parts = sorted(partitions)[-holdout_days:]
    train_parts = sorted(partitions)[:-holdout_days]
    is_holdout = frame[PARTITION_COLUMN].isin({d.isoformat() for d in holdout_parts})
    split = Split(
        train=frame.loc[~is_holdout].reset_index(drop=True),
        holdout=frame.loc[is_holdout].reset_index(drop=True),
        train_partitions=train_parts,
        holdout_partitions=holdout_parts,
    )
    return split


def frame_digest(frame: pd.DataFrame, columns: list[str]) -> str:
    """A short content hash of ``columns`` (row order included): identical data, identical digest."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
