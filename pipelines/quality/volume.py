"""Volume and bookkeeping checks over ``ops.load_log`` rows; pure polars functions.

These catch what row-level expectations cannot: a day's export that arrived a third of its usual
size (a truncated download, a filter left on at the source), a file whose rows were mostly
quarantined, and a loader that lost rows between reading and writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

# A file's "family" is its name with dates and digits blanked, so that
# open311_requests_2024-05-01.json and open311_requests_2024-05-02.json compare with each other
# but not with city311_2024-05-02.csv.
_DATE_OR_NUMBER = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}-\d{2}|\d{4}Q\d|\d+")
# Archived names are "<sha256-prefix>__<name>"; the hash prefix is not part of the family.
_HASH_PREFIX = re.compile(r"^[0-9a-f]{6,64}__")


@dataclass(frozen=True)
class VolumeWarning:
    """A suspicious file: ``kind`` is ``volume_drop`` or ``quarantine_rate``."""

    file: str
    source: str
    kind: str
    message: str
    value: float
    threshold: float


@dataclass(frozen=True)
class ConservationViolation:
    """A loaded file whose read rows do not equal accepted plus quarantined rows."""

    file: str
    source: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    message: str


def file_family(file: str) -> str:
    """The name pattern a file belongs to: directories, hash prefix and digits removed."""
    name = file.replace("\\", "/").rsplit("/", 1)[-1]
    name = _HASH_PREFIX.sub("", name)
    return _DATE_OR_NUMBER.sub("#", name)


def _loaded(load_log: pl.DataFrame) -> pl.DataFrame:
    return load_log.filter(pl.col("status") == "loaded").with_columns(
        pl.col("file").map_elements(file_family, return_dtype=pl.String).alias("family"),
        pl.col("rows_read").fill_null(0),
        pl.col("rows_accepted").fill_null(0),
        pl.col("rows_quarantined").fill_null(0),
    )


def volume_anomalies(
    load_log: pl.DataFrame,
    *,
    drop_threshold: float = 0.6,
    quarantine_threshold: float = 0.05,
    window: int = 14,
    min_history: int = 3,
) -> list[VolumeWarning]:
    """Warnings for loaded files that are much smaller than usual or heavily quarantined.

    Volume drop: a file with ``rows_read`` at least ``drop_threshold`` (60%) below the median
    of the previous ``window`` loaded files of the same source and file family (ordered by
    ``loaded_at``, then file name). Files with fewer than ``min_history`` predecessors are not
    judged: a median of one or two files is noise.
    Quarantine rate: ``rows_quarantined / rows_read`` above ``quarantine_threshold`` (5%).
    """
    if load_log.height == 0:
        return []
    loaded = _loaded(load_log).sort(["loaded_at", "file"], nulls_last=True)
    warnings: list[VolumeWarning] = []

    for (source, family), group in loaded.group_by(["source", "family"], maintain_order=True):
        history: list[int] = []
        for row in group.iter_rows(named=True):
            rows_read = int(row["rows_read"])
            recent = history[-window:]
            if len(recent) >= min_history:
                median = float(pl.Series(recent).median())  # type: ignore[arg-type]
                if median > 0:
                    drop = 1.0 - rows_read / median
                    if drop >= drop_threshold:
                        warnings.append(
                            VolumeWarning(
                                file=row["file"],
                                source=str(source),
                                kind="volume_drop",
                                message=(
                                    f"{row['file']} has {rows_read} rows, {drop:.0%} fewer than "
                                    f"the median of {median:g} rows over the previous "
                                    f"{len(recent)} {family} files of source {source} "
                                    f"(warning threshold {drop_threshold:.0%} fewer)"
                                ),
                                value=drop,
                                threshold=drop_threshold,
                            )
                        )
            history.append(rows_read)

    for row in loaded.iter_rows(named=True):
        rows_read = int(row["rows_read"])
        quarantined = int(row["rows_quarantined"])
        if rows_read <= 0:
            continue
        rate = quarantined / rows_read
        if rate > quarantine_threshold:
            warnings.append(
                VolumeWarning(
                    file=row["file"],
                    source=row["source"],
                    kind="quarantine_rate",
                    message=(
                        f"{row['file']} had {quarantined} of {rows_read} rows quarantined "
                        f"({rate:.1%}), above the {quarantine_threshold:.0%} warning threshold"
                    ),
                    value=rate,
                    threshold=quarantine_threshold,
                )
            )
    return warnings


def row_conservation_violations(load_log: pl.DataFrame) -> list[ConservationViolation]:
    """Loaded files where ``rows_read != rows_accepted + rows_quarantined``.

    Duplicates and rejected files are skipped: they accept nothing by design. A null count in a
    loaded row is itself a violation, because it means the loader did not account for its rows.
    """
    if load_log.height == 0:
        return []
    loaded = load_log.filter(pl.col("status") == "loaded")
    bad = loaded.filter(
        pl.any_horizontal(
            pl.col("rows_read").is_null(),
            pl.col("rows_accepted").is_null(),
            pl.col("rows_quarantined").is_null(),
        )
        | (pl.col("rows_read") != pl.col("rows_accepted") + pl.col("rows_quarantined"))
    )
    violations: list[ConservationViolation] = []
    for row in bad.iter_rows(named=True):
        read, accepted, quarantined = (row["rows_read"], row["rows_accepted"], row["rows_quarantined"])
        if None in (read, accepted, quarantined):
            message = (
                f"{row['file']} is loaded but its row counts are incomplete "
                f"(read {read}, accepted {accepted}, quarantined {quarantined})"
            )
        else:
            gap = read - accepted - quarantined
            message = (
                f"{row['file']}: read {read} rows but accepted {accepted} and quarantined "
                f"{quarantined}; {abs(gap)} rows {'unaccounted for' if gap > 0 else 'too many'}"
            )
        violations.append(
            ConservationViolation(
                file=row["file"],
                source=row["source"],
                rows_read=-1 if read is None else int(read),
                rows_accepted=-1 if accepted is None else int(accepted),
                rows_quarantined=-1 if quarantined is None else int(quarantined),
                message=message,
            )
        )
    return violations
