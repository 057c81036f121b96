"""Inequality across districts and groups: Theil's T and its between/within decomposition.

Formulas (the dbt SQL implementation is cross-checked against these; keep them in step):

- Theil's T over values ``x_1..x_n`` with mean ``mu``::

      T = mean( (x_i / mu) * ln(x_i / mu) )          with 0 * ln 0 = 0

  0 means perfect equality; the maximum is ``ln n`` (everything in one unit).
- Decomposition over a partition into groups ``g`` (``n_g`` units, value share
  ``s_g = sum_{i in g} x_i / sum_i x_i``, group Theil ``T_g`` computed within the group)::

      between = sum_g s_g * ln( s_g * n / n_g )      (T of the group means, unit-weighted)
      within  = sum_g s_g * T_g                      (value-share-weighted group Theils)
      total   = between + within = T

The numbers come from PySAL ``inequality`` 1.1.2 (``Theil`` and ``TheilD``); this module adds
input checks (PySAL silently accepts negative values and NaN) and plain-float results.
Values must be non-negative (rates, counts, per-capita figures); zeros are allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import polars as pl

ValuesLike = pl.Series | np.ndarray | Sequence[float]
GroupsLike = pl.Series | np.ndarray | Sequence[object]


class TheilSplit(NamedTuple):
    """Theil's T and its exact split: ``total == between + within``."""

    total: float
    between: float
    within: float


def _checked_values(values: ValuesLike) -> np.ndarray:
    """Non-negative, finite 1-d float array with a positive sum; anything else is an error."""
    if isinstance(values, pl.Series):
        if values.null_count():
            raise ValueError("values contain nulls; drop or impute them first")
        array = values.cast(pl.Float64).to_numpy()
    else:
        array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("values must be a non-empty one-dimensional sequence")
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite (no NaN or infinity)")
    if np.any(array < 0):
        raise ValueError("Theil's T needs non-negative values")
    if array.sum() <= 0:
        raise ValueError("Theil's T is undefined when all values are zero")
    return array


def theil_t(values: ValuesLike) -> float:
    """Theil's T: ``mean((x / mu) * ln(x / mu))`` (see the module docstring), via PySAL."""
    from inequality.theil import Theil  # heavy import (scipy, pandas): only when used

    return float(Theil(_checked_values(values)).T)


def theil_decomposition(values: ValuesLike, groups: GroupsLike) -> TheilSplit:
    """Split Theil's T into between-group and within-group parts, via PySAL ``TheilD``.

    Args:
        values: non-negative values, one per unit.
        groups: group label per unit (same length; nulls are not a group and are rejected).

    Returns:
        ``TheilSplit(total, between, within)`` with ``total == between + within``.

    """
    from inequality.theil import TheilD  # heavy import (scipy, pandas): only when used

    x = _checked_values(values)
    group_series = groups if isinstance(groups, pl.Series) else pl.Series("groups", groups)
    if group_series.null_count():
        raise ValueError("groups contain nulls")
    labels = group_series.cast(pl.String).to_numpy()
    if labels.shape != x.shape:
        raise ValueError(f"values ({x.size}) and groups ({labels.size}) differ in length")
    result = TheilD(x, labels)
    total = float(np.asarray(result.T).item())
    between = float(np.asarray(result.bg).item())
    return TheilSplit(total=total, between=between, within=total - between)
