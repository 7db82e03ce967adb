"""Column access over pandas frames and Arrow tables/batches, and counting values into bins."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def chunks(data: Any) -> Iterable[Any]:
    """One frame/batch/table, or an iterable of them."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pd.DataFrame | pa.RecordBatch | pa.Table):
        return [data]
    return data


def n_rows(chunk: Any) -> int:
    return int(chunk.num_rows) if hasattr(chunk, "num_rows") else len(chunk)


def column(chunk: Any, name: str) -> Any:
    try:
        return chunk[name] if not hasattr(chunk, "schema") else chunk.column(name)
    except KeyError:
        raise KeyError(f"column {name!r} is missing from the data") from None


def numeric_values(col: Any) -> np.ndarray:
    """float64 values with NaN for missing (zero-copy where the source allows it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray | pa.Array):
        if not pa.types.is_floating(col.type) or col.type != pa.float64():
            col = pc.cast(col, pa.float64())
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        return col.to_numpy(zero_copy_only=False)
    return (
        np.asarray(col, dtype=np.float64)
        if not hasattr(col, "to_numpy")
        else col.to_numpy(dtype=np.float64, na_value=np.nan)
    )


def numeric_array(values: Any) -> np.ndarray:
    if hasattr(values, "num_rows") or hasattr(values, "columns"):
        raise TypeError("expected a 1-d array of values, got a table")
    return numeric_values(values)


def category_counts(col: Any) -> tuple[dict[str, int], int]:
    """Counts per category (as strings) and the number of missing values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(col, pa.ChunkedArray | pa.Array):
        col = pa.array(col, from_pandas=True)
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    missing = col.null_count
    vc = pc.value_counts(col)
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    return {v: int(c) for v, c in zip(values, counts, strict=True) if v is not None}, int(missing)


def sorted_bincount(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Same as :func:`bincount` for sorted values: O(bins · log n) instead of O(n · log bins)."""
    below = np.searchsorted(ordered, edges, side="right")  # rows <= each edge
    return np.diff(np.concatenate([[0], below, [ordered.size]])).astype(np.int64)


def bincount(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of non-NaN ``values`` in the right-closed bins of ``edges`` (len(edges) + 1 bins)."""
    return Binner(edges).count(values)


class Binner:
    """Exact right-closed binning into fixed sorted ``edges``, faster than a binary search per value.

    ``np.searchsorted(edges, values, side="left")`` costs a branchy binary search per value. Here a
    value's bin is first read from a lookup table over equal-width cells spanning the inner edges
    (``edges[1] .. edges[-2]``, so one extreme reference value cannot stretch the cells), then
    checked against the bin's own two edges; the few values that fail the check (a cell holding an
    edge, a value outside the inner range, a rounding at a cell border) are searched exactly. The
    result is the same index as ``searchsorted`` for every value (±inf included; no NaN).
    """

    CELLS_PER_EDGE = 64

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        n = self.edges.size
        self._table: np.ndarray | None = None
        if n < 4:
            return
        lo, hi = float(self.edges[1]), float(self.edges[-2])
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            return
        cells = self.CELLS_PER_EDGE * n
        self._lo, self._scale, self._cells = lo, cells / (hi - lo), cells
        starts = lo + np.arange(cells + 1, dtype=np.float64) / self._scale
        self._table = np.searchsorted(self.edges, starts, side="left").astype(np.intp)
        self._below = np.concatenate([[-np.inf], self.edges])  # _below[i] = edges[i - 1]
        self._above = np.concatenate([self.edges, [np.inf]])  # _above[i] = edges[i]

    def index(self, values: np.ndarray) -> np.ndarray:
        """``np.searchsorted(edges, values, side="left")``: the bin of each (non-NaN) value."""
        if self._table is None:
            return np.searchsorted(self.edges, values, side="left")
        cell = values - self._lo
        cell *= self._scale
        np.clip(cell, 0, self._cells, out=cell)
        idx = self._table[cell.astype(np.intp)]
        wrong = np.flatnonzero((values <= self._below[idx]) | (values > self._above[idx]))
        if wrong.size:
            idx[wrong] = np.searchsorted(self.edges, values[wrong], side="left")
        return idx

    def count(self, values: np.ndarray) -> np.ndarray:
        """Counts of (non-NaN) ``values`` per bin: len(edges) + 1 of them."""
        return np.bincount(self.index(values), minlength=self.edges.size + 1).astype(np.int64)
