"""Survey weighting: raking to census margins, trimming, and weighted estimates.

Raking (iterative proportional fitting, IPF) adjusts respondent weights until the weighted sample
reproduces known population totals on each margin (here: district, and age band x sex). The
iterations are done by the field library weightipy 0.4.2; this module adds what the survey needs
around it: validation with explicit errors, base (seed) weights, a convergence check against the
margins themselves, weight trimming, and scaling to the population total.

Trimming scheme (``rake_weights``, documented once here): bounded re-raking.

1. Rake the base weights to the margins; scale so the weights sum to the population total ``N``.
   The mean weight is then ``N / n`` (``n`` respondents) and stays so after every re-rake, so the
   trimming bounds are fixed: ``[trim_low * N / n, trim_high * N / n]``.
2. Every not-yet-trimmed respondent whose weight lies outside the bounds (beyond a 1e-6 relative
   slack for rounding) is trimmed: set to the bound it crossed and held there. The remaining
   ("free") respondents are re-raked, from their base weights, to the residual margins (each
   category's population total minus the trimmed respondents' weight in it).
3. Repeat step 2 until no free weight is out of bounds. The trimmed set only grows, so this ends;
   it usually takes two or three rounds. Margins hold exactly (to ``tol``) after every round and
   the final weights lie within the bounds. A respondent is ``trimmed`` when held at a bound.

Plain alternation (clip everything, re-rake everything from the clipped weights) was tried first
and rejected: re-raking multiplies the clipped weights back up, and on a moderately skewed sample
it still exceeded the upper bound by 16 % after 50 rounds. If the bounds and the margins cannot
both hold (a category whose respondents all sit at the upper bound and still fall short), the
margins win because published estimates must add up to the census: of the untrimmed raked weights
and the last trimming round's weights (both meet the margins), whichever exceeds the bounds less
is returned, with a ``TrimmingWarning`` saying by how much.

Estimates (``weighted_share``) use the normal approximation with Kish's effective sample size:
``n_eff = (sum w)^2 / sum w^2``, ``se = sqrt(p (1 - p) / n_eff)``, ``CI = p -/+ z se`` clipped to
[0, 1]; the dbt models follow the same formulas.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import polars as pl

# Relative slack before a weight counts as outside the trimming bounds: re-raked weights land on
# a bound only up to rounding, and trimming them again would only add rounds.
TRIM_SLACK = 1e-6
# Safety stop for the trimming rounds; the trimmed set only grows, a few rounds is typical.
MAX_TRIM_ROUNDS = 50
# Two margins describe the same population: their totals must agree to rounding.
MARGIN_TOTAL_RTOL = 1e-6
# How many offending respondents an error message lists before it says "and N more".
_MAX_NAMED = 20
# Column names used inside the weightipy frame; prefixed so they cannot clash with margin names.
_WEIGHT_COL = "__civicloop_weight__"

WeightsLike = pl.Series | np.ndarray | Sequence[float]


class RakingError(ValueError):
    """The respondents and margins cannot be raked as given (missing categories, bad totals)."""


class RakingConvergenceError(RuntimeError):
    """Raking did not reproduce the margins to the requested tolerance within ``max_iter``."""


class TrimmingWarning(UserWarning):
    """Trimming bounds could not be met while keeping the margins exact."""


class EmptyCategoryWarning(UserWarning):
    """A margin category has population but no respondents; its share was spread over the rest."""


def _name_rows(respondents: pl.DataFrame, mask: pl.Series) -> str:
    """Name the flagged respondents by ``respondent_id`` (or row number) for an error message."""
    if "respondent_id" in respondents.columns:
        names = respondents.filter(mask)["respondent_id"].cast(pl.String).to_list()
    else:
        names = [f"row {i}" for i in mask.arg_true().to_list()]
    shown = ", ".join(str(name) for name in names[:_MAX_NAMED])
    more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
    return f"{shown}{more}"


def _validate_margins(
    respondents: pl.DataFrame, margins: dict[str, dict[str, float]]
) -> tuple[dict[str, dict[str, float]], float]:
    """Check respondents against margins; return the usable margins and the population total.

    Rules (all errors are ``RakingError``):

    - every margin variable must be a column; every respondent must have a non-null category
      that appears in that margin with a positive population (otherwise: error naming them);
    - margin values must be finite and non-negative, and every margin must sum to the same total;
    - a category with population but no respondents cannot be represented by any weight: it is
      dropped and the margin rescaled to the common total (its population is spread pro rata
      over the other categories of that margin), with an ``EmptyCategoryWarning``. Categories
      with zero population and no respondents are simply ignored.
    """
    if not margins:
        raise RakingError("margins is empty: give at least one {variable: {category: total}}")
    totals: dict[str, float] = {}
    for var, cells in margins.items():
        if var not in respondents.columns:
            raise RakingError(f"margin variable {var!r} is not a column of respondents")
        values = np.array(list(cells.values()), dtype=float)
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise RakingError(f"margin {var!r} must hold finite, non-negative totals")
        totals[var] = float(values.sum())
        if totals[var] <= 0:
            raise RakingError(f"margin {var!r} sums to zero")
    population_total = next(iter(totals.values()))
    for var, total in totals.items():
        if not math.isclose(total, population_total, rel_tol=MARGIN_TOTAL_RTOL):
            raise RakingError(
                f"margins describe different populations: {var!r} sums to {total:,.6g}, "
                f"{next(iter(totals))!r} to {population_total:,.6g}"
            )

    usable: dict[str, dict[str, float]] = {}
    for var, cells in margins.items():
        column = respondents[var].cast(pl.String)
        positive = {str(cat) for cat, value in cells.items() if value > 0}
        unknown = column.is_null() | ~column.is_in(list(positive))
        if unknown.any():
            missing = sorted(set(column.filter(unknown).drop_nulls().to_list()))
            detail = f" (categories not in margin / zero population: {missing})" if missing else ""
            raise RakingError(
                f"{int(unknown.sum())} respondent(s) have a null or unknown {var!r}{detail}: "
                f"{_name_rows(respondents, unknown)}"
            )
        present = set(column.unique().to_list())
        empty = sorted(cat for cat in positive if cat not in present)
        kept = {str(cat): float(v) for cat, v in cells.items() if v > 0 and str(cat) in present}
        if empty:
            warnings.warn(
                f"margin {var!r}: categories {empty} have population but no respondents; their "
                "population is spread pro rata over the other categories of this margin",
                EmptyCategoryWarning,
                stacklevel=3,
            )
            scale = population_total / sum(kept.values())
            kept = {cat: value * scale for cat, value in kept.items()}
        usable[var] = kept
    return usable, population_total


def _encode(
    respondents: pl.DataFrame, margins: dict[str, dict[str, float]]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Category index per respondent and population total per category, for each margin.

    Integer codes keep weightipy's equality masks away from strings and mixed types.
    """
    codes = {
        var: respondents[var]
        .cast(pl.String)
        .replace_strict(list(cells), list(range(len(cells))), return_dtype=pl.Int64)
        .to_numpy()
        for var, cells in margins.items()
    }
    targets = {var: np.array(list(cells.values()), dtype=float) for var, cells in margins.items()}
    return codes, targets


def _max_margin_error(
    codes: dict[str, np.ndarray], targets: dict[str, np.ndarray], weights: np.ndarray
) -> float:
    """Largest relative gap between a weighted category total and its target.

    Only categories with at least one respondent count: the callers guarantee the others have
    (residual) target zero.
    """
    worst = 0.0
    for var, target in targets.items():
        present = np.bincount(codes[var], minlength=target.size) > 0
        achieved = np.bincount(codes[var], weights=weights, minlength=target.size)
        gap = np.abs(achieved - target)[present] / target[present]
        worst = max(worst, float(gap.max()))
    return worst


def _ipf(
    codes: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    seed: np.ndarray,
    *,
    max_iter: int,
    tol: float,
) -> np.ndarray:
    """Rake ``seed`` to the category totals with weightipy; weights sum to the targets' total.

    Uses ``weightipy.internal.rim.Rake`` (pinned 0.4.2) rather than the public ``weight()``: only
    ``Rake`` accepts a seed (base weights) and a convergence criterion. The public path always
    starts from weight 1, hard-codes a 1 %-improvement stopping rule and rewrites weights equal to
    0.0 or 1.0. We run ``Rake`` with ``convcrit=0`` (iterate while the L1 change of the weights
    still shrinks) and judge convergence ourselves on the margins, restarting from the current
    weights if the library stopped early, within ``max_iter`` sweeps in total. The tests compare
    this with an independent numpy IPF, so a change in the library's internals fails loudly.
    """
    import pandas as pd
    from weightipy.internal.rim import Rake

    total = float(next(iter(targets.values())).sum())
    # weightipy wants [{variable: {code: percent}}]; categories without respondents are left out
    # (their target is zero by construction, and weightipy would silently skip them anyway).
    percent_targets = []
    for var, target in targets.items():
        present = np.flatnonzero(np.bincount(codes[var], minlength=target.size))
        percent_targets.append({var: {int(k): 100.0 * target[k] / total for k in present}})
    frame = pd.DataFrame(codes)
    weights = seed.astype(float).copy()
    used = 0
    while True:
        rake = Rake(
            frame.copy(),
            percent_targets,
            weight_column_name=_WEIGHT_COL,
            max_iterations=max(max_iter - used, 1),
            convcrit=0.0,
        )
        # Rake.__init__ resets the weights to 1; start() reads the column, so the seed goes here.
        rake.dataframe[_WEIGHT_COL] = weights
        with contextlib.redirect_stdout(io.StringIO()):  # weightipy prints instead of warning
            used += rake.start()
        weights = rake.dataframe[_WEIGHT_COL].to_numpy(dtype=float)
        weights = weights * (total / weights.sum())
        error = _max_margin_error(codes, targets, weights)
        if error <= tol:
            return weights
        if used >= max_iter:
            raise RakingConvergenceError(
                f"raking did not converge in {max_iter} sweeps: largest relative margin error "
                f"{error:.3g} > tol {tol:.3g} (sparse cells can make the margins unreachable)"
            )


def _residual_targets(
    codes: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    weights: np.ndarray,
    fixed: np.ndarray,
) -> dict[str, np.ndarray] | None:
    """Targets left for the free respondents once the trimmed ones are held at their bound.

    ``None`` when the bounds and the margins cannot both hold: a category whose free respondents
    would need a zero or negative total, or one with no free respondents but target left over.
    """
    residual: dict[str, np.ndarray] = {}
    for var, target in targets.items():
        left = target - np.bincount(codes[var][fixed], weights=weights[fixed], minlength=target.size)
        has_free = np.bincount(codes[var][~fixed], minlength=target.size) > 0
        if np.any(left[has_free] <= 0) or np.any(np.abs(left[~has_free]) > 1e-9 * target[~has_free]):
            return None
        residual[var] = np.where(has_free, left, 0.0)
    return residual


def _bound_excess(weights: np.ndarray, low: float, high: float) -> float:
    """How far, relatively, the weights overshoot ``[low, high]`` (0 when inside)."""
    over = float(weights.max()) / high
    under = low / float(weights.min()) if low > 0 else 0.0
    return max(over, under, 1.0) - 1.0


def _rake(
    respondents: pl.DataFrame,
    margins: dict[str, dict[str, float]],
    *,
    base_weight: str | None,
    trim: tuple[float, float],
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Raked-and-trimmed weights and the per-respondent ``trimmed`` flag (see module docstring)."""
    trim_low, trim_high = trim
    if not (0.0 <= trim_low <= 1.0 <= trim_high):
        raise ValueError(f"trim must satisfy 0 <= low <= 1 <= high, got {trim}")
    if respondents.height == 0:
        return np.empty(0), np.empty(0, dtype=bool)
    usable, population_total = _validate_margins(respondents, margins)

    if base_weight is None:
        seed = np.ones(respondents.height)
    else:
        if base_weight not in respondents.columns:
            raise RakingError(f"base_weight column {base_weight!r} is not in respondents")
        column = respondents[base_weight].cast(pl.Float64)
        bad = column.is_null() | ~column.is_finite().fill_null(False) | (column <= 0).fill_null(True)
        if bad.any():
            raise RakingError(
                f"base weights must be positive and finite; not so for {_name_rows(respondents, bad)}"
            )
        seed = column.to_numpy()

    codes, targets = _encode(respondents, usable)
    weights = _ipf(codes, targets, seed, max_iter=max_iter, tol=tol)
    initial = weights

    mean_weight = population_total / respondents.height  # invariant: every rake sums to N
    low, high = trim_low * mean_weight, trim_high * mean_weight
    fixed = np.zeros(respondents.height, dtype=bool)
    for _ in range(MAX_TRIM_ROUNDS):
        violating = ~fixed & ((weights < low * (1 - TRIM_SLACK)) | (weights > high * (1 + TRIM_SLACK)))
        if not violating.any():
            return weights, fixed
        candidate = weights.copy()
        candidate[violating] = np.clip(candidate[violating], low, high)
        now_fixed = fixed | violating
        residual = _residual_targets(codes, targets, candidate, now_fixed)
        if residual is None:
            problem = "the margins cannot be met with these respondents held at the bounds"
            break
        free = ~now_fixed
        try:
            candidate[free] = _ipf(
                {var: c[free] for var, c in codes.items()},
                residual,
                seed[free],
                max_iter=max_iter,
                tol=tol,
            )
        except RakingConvergenceError:
            # Positive residual totals can still be unreachable for the free respondents' mix
            # of categories; that is the same infeasibility, found one step later.
            problem = "the free respondents cannot reach the residual margins"
            break
        weights, fixed = candidate, now_fixed
    else:
        problem = f"{MAX_TRIM_ROUNDS} trimming rounds were not enough"
    # Partial trimming can push other weights further out (holding the large ones down pushes
    # the rest of their category down too); keep whichever weights break the bounds less.
    if _bound_excess(initial, low, high) <= _bound_excess(weights, low, high):
        weights, fixed = initial, np.zeros(respondents.height, dtype=bool)
    warnings.warn(
        f"trimming stopped early ({problem}); margins are exact but weights exceed the "
        f"[{trim_low}, {trim_high}] x mean bounds by up to {_bound_excess(weights, low, high):.1%}",
        TrimmingWarning,
        stacklevel=3,
    )
    return weights, fixed


def rake_weights(
    respondents: pl.DataFrame,
    margins: dict[str, dict[str, float]],
    *,
    base_weight: str | None = None,
    trim: tuple[float, float] = (0.3, 3.0),
    max_iter: int = 200,
    tol: float = 1e-10,
) -> pl.Series:
    """Rake respondents to population margins, trim extreme weights, and re-rake.

    Args:
        respondents: one row per respondent with a column per margin variable (and optionally
            ``respondent_id``, used to name respondents in errors).
        margins: population totals per category, e.g.
            ``{"district_code": {"D01": 41200, ...}, "age_sex": {"18-34|F": 9100, ...}}``.
            Every margin must sum to the same population total.
        base_weight: column of positive design weights used as the IPF seed; ``None`` = equal.
        trim: ``(low, high)`` bounds as multiples of the mean weight (see the module docstring
            for the trim-and-re-rake scheme). ``(0.0, math.inf)`` disables trimming.
        max_iter: maximum IPF sweeps (one sweep adjusts every margin once) per rake.
        tol: largest accepted relative gap between a weighted category total and its target.

    Returns:
        Float64 series ``raked_weight`` aligned with ``respondents``, summing to the population
        total.

    Raises:
        RakingError: a respondent's category is null or absent from (or zero in) its margin, the
            margins disagree on the population total, or base weights are not positive.
        RakingConvergenceError: the margins were not reproduced to ``tol`` in ``max_iter`` sweeps.

    """
    weights, _ = _rake(respondents, margins, base_weight=base_weight, trim=trim, max_iter=max_iter, tol=tol)
    return pl.Series("raked_weight", weights, dtype=pl.Float64)


SURVEY_WEIGHTS_SCHEMA = pl.Schema(
    {
        "respondent_id": pl.String(),
        "wave": pl.String(),
        "base_weight": pl.Float64(),
        "raked_weight": pl.Float64(),
        "trimmed": pl.Boolean(),
    }
)
DEMOGRAPHICS = ("district_code", "age_band", "sex")


def population_margins(population: pl.DataFrame) -> dict[str, dict[str, float]]:
    """The two raking margins from ``raw.population``: ``district_code`` and ``age_sex``.

    ``age_sex`` categories are ``"<age_band>|<sex>"`` (e.g. ``"18-34|F"``), matching the column
    :func:`survey_weights` derives for respondents.
    """
    missing = {"district_code", "age_band", "sex", "population"} - set(population.columns)
    if missing:
        raise RakingError(f"population lacks columns {sorted(missing)}")
    if population.select(pl.any_horizontal(pl.all().is_null()).any()).item():
        raise RakingError("raw.population has null values")
    if population.select(pl.struct(DEMOGRAPHICS).is_duplicated().any()).item():
        raise RakingError("raw.population has duplicate district x age_band x sex rows")
    with_cell = population.with_columns(_age_sex(pl.col("age_band"), pl.col("sex")))
    by_district = with_cell.group_by("district_code").agg(pl.col("population").sum())
    by_age_sex = with_cell.group_by("age_sex").agg(pl.col("population").sum())
    return {
        "district_code": dict(by_district.sort("district_code").iter_rows()),
        "age_sex": dict(by_age_sex.sort("age_sex").iter_rows()),
    }


def _age_sex(age_band: pl.Expr, sex: pl.Expr) -> pl.Expr:
    """Cross-classified age band x sex cell; null when either part is null."""
    return pl.concat_str([age_band, sex], separator="|").alias("age_sex")


def survey_weights(respondents: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """Rake every survey wave to the census margins; rows for ``raw.survey_weights``.

    Margins (from ``raw.population``, the same for every wave): district, and age band x sex.
    Per wave:

    - ``base_weight`` is the equal-probability expansion weight ``N / n_wave`` (population total
      over the wave's respondents): no selection probabilities are recorded, so every respondent
      starts equal.
    - Respondents with a null ``district_code``, ``age_band`` or ``sex`` (declined to say) cannot
      be placed in a margin: they get ``raked_weight`` null and ``trimmed`` false, so weighted
      estimates leave them out; the others are raked among themselves to the full population.
    - A non-null category absent from ``raw.population`` is a data error: ``RakingError`` naming
      the respondents.
    - Weights are trimmed to [0.3, 3] x the mean weight and re-raked (see the module docstring).

    Returns:
        ``respondent_id, wave, base_weight, raked_weight, trimmed`` sorted by wave, respondent_id.

    """
    needed = {"respondent_id", "wave", *DEMOGRAPHICS}
    missing = needed - set(respondents.columns)
    if missing:
        raise RakingError(f"respondents lack columns {sorted(missing)}")
    if respondents.height == 0:
        return pl.DataFrame(schema=SURVEY_WEIGHTS_SCHEMA)
    if respondents.select(pl.struct("respondent_id", "wave").is_duplicated().any()).item():
        raise RakingError("duplicate respondent_id within a wave in survey_respondents")
    margins = population_margins(population)
    population_total = sum(margins["district_code"].values())

    frames: list[pl.DataFrame] = []
    for (wave,), group in respondents.sort("wave", "respondent_id").group_by("wave", maintain_order=True):
        group = group.with_columns(_age_sex(pl.col("age_band"), pl.col("sex")))
        known = pl.all_horizontal(pl.col(c).is_not_null() for c in DEMOGRAPHICS)
        eligible = group.filter(known)
        excluded = group.height - eligible.height
        if excluded:
            warnings.warn(
                f"wave {wave}: {excluded} respondent(s) with missing demographics get no raked weight",
                stacklevel=2,
            )
        weights, trimmed = _rake(
            eligible, margins, base_weight=None, trim=(0.3, 3.0), max_iter=200, tol=1e-10
        )
        raked = eligible.select("respondent_id").with_columns(
            pl.Series("raked_weight", weights, dtype=pl.Float64),
            pl.Series("trimmed", trimmed, dtype=pl.Boolean),
        )
        frames.append(
            group.select("respondent_id", "wave")
            .with_columns(base_weight=pl.lit(population_total / group.height, pl.Float64))
            .join(raked, on="respondent_id", how="left", maintain_order="left")
            .with_columns(pl.col("trimmed").fill_null(False))
        )
    return pl.concat(frames).cast(SURVEY_WEIGHTS_SCHEMA).select(list(SURVEY_WEIGHTS_SCHEMA))


def _as_array(values: WeightsLike, name: str) -> np.ndarray:
    """1-d float array from a polars Series, numpy array or sequence (nulls become NaN)."""
    if isinstance(values, pl.Series):
        array = values.cast(pl.Float64).fill_null(np.nan).to_numpy()
    else:
        array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return array


def _checked_weights(weights: WeightsLike) -> np.ndarray:
    """Weights without NaN; negative or all-zero weights are errors, not estimates."""
    w = _as_array(weights, "weights")
    w = w[~np.isnan(w)]
    if np.any(w < 0) or np.any(np.isinf(w)):
        raise ValueError("weights must be finite and non-negative")
    return w


def kish_effective_n(weights: WeightsLike) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (null weights ignored; 0 if none)."""
    w = _checked_weights(weights)
    sum_sq = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / sum_sq if sum_sq > 0 else 0.0


def design_effect(weights: WeightsLike) -> float:
    """Kish's design effect due to unequal weighting: ``n / n_eff = 1 + CV^2`` (NaN if no weights)."""
    w = _checked_weights(weights)
    n_eff = kish_effective_n(w)
    return w.size / n_eff if n_eff > 0 else math.nan


def weighted_share(
    values: WeightsLike, weights: WeightsLike, *, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Weighted share of true/1 values with a normal-approximation CI using Kish's n_eff.

    ``p = sum(w y) / sum(w)``; ``se = sqrt(p (1 - p) / n_eff)`` with ``n_eff`` from the weights
    of the answered items; ``(p, max(0, p - z se), min(1, p + z se))``, ``z`` the two-sided
    normal quantile (1.959964 for 95 %). Pairs where the value or weight is null/NaN are left
    out (item non-response). At ``p`` = 0 or 1 the interval collapses to the point: the normal
    approximation knows no better.

    Returns:
        ``(estimate, ci_low, ci_high)``; all NaN when nothing is left to estimate from.

    Raises:
        ValueError: values other than 0/1/true/false, mismatched lengths, negative weights.

    """
    y = _as_array(values, "values")
    w = _as_array(weights, "weights")
    if y.size != w.size:
        raise ValueError(f"values ({y.size}) and weights ({w.size}) differ in length")
    keep = ~(np.isnan(y) | np.isnan(w))
    y, w = y[keep], _checked_weights(w[keep])
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("weighted_share expects 0/1 (boolean) values")
    total = float(w.sum())
    if total <= 0:
        return (math.nan, math.nan, math.nan)
    p = float(np.dot(w, y)) / total
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    half = z * math.sqrt(p * (1 - p) / kish_effective_n(w))
    return (p, max(0.0, p - half), min(1.0, p + half))
