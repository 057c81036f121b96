"""parse_timestamp tries only the formats a column needs, with exactly the values of trying them all.

The reference is ``parse_timestamp_every_format`` (every value with every format, first one wins);
the fast path must give the same timestamps and so the same accepted and quarantined rows.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.ingest import feedback
from pipelines.ingest.feedback import parse_feedback, read_feedback_file
from pipelines.ingest.profiles import resolve_profile
from pipelines.ingest.validation import TIMESTAMP_SAMPLE_VALUES, parse_timestamp, parse_timestamp_every_format

CITY_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M",
]
# strptime is lenient: this one also parses plain "2024-01-01 10:00:00", so an earlier format can
# win a value that a later one was meant for.
LENIENT_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
VALUES = [
    "2024-01-01 10:00:00",
    "2024-02-29T23:59:59",
    "2024-03-04 05:06",
    "2024-03-04T05:06:07.123456",
    "2024-03-04T05:06:07.5",
    "03/04/2024 01:02:03 PM",
    "12/31/2023 23:59",
    "2024-01-01 10:00:00 UTC",
    "2024-13-01 10:00:00",
    "31/12/2023 10:00",
    "not a date",
    "",
    None,
]


def both(values: list[str | None], formats: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.LazyFrame({"text": values}, schema={"text": pl.String})
    fast = frame.select(parse_timestamp(pl.col("text"), formats)).collect()
    reference = frame.select(parse_timestamp_every_format(pl.col("text"), formats)).collect()
    return fast, reference


@pytest.mark.parametrize(
    "values",
    [
        [],
        [None, None],
        ["2024-01-01 10:00:00"] * 20,
        # A second format after the sampled values, and a typo among them.
        ["2024-01-01 10:00:00"] * (TIMESTAMP_SAMPLE_VALUES + 2) + ["03/04/2024 01:02:03 PM", "nope"],
        # The first values parse with no format: every format is tried.
        ["garbage", "", "2024-01-01 10:00:00", "12/31/2023 23:59"],
        # A later value that an earlier format than the sampled one parses differently.
        ["2024-03-04T05:06:07.5"] * TIMESTAMP_SAMPLE_VALUES + ["2024-01-01T10:00:00"],
    ],
)
def test_columns_that_are_hard_to_guess_parse_as_with_every_format(values: list[str | None]) -> None:
    for formats in (CITY_FORMATS, [LENIENT_FORMAT, *CITY_FORMATS], [*CITY_FORMATS, LENIENT_FORMAT]):
        fast, reference = both(values, formats)
        assert_frame_equal(fast, reference)


def test_random_columns_and_format_lists_parse_as_with_every_format() -> None:
    rng = random.Random(20261201)
    for _ in range(200):
        formats = rng.sample([*CITY_FORMATS, LENIENT_FORMAT], rng.randint(1, len(CITY_FORMATS) + 1))
        # Mostly one value kind per column, as in real files, with strays of other kinds.
        main = rng.choice(VALUES)
        values = [main if rng.random() < 0.8 else rng.choice(VALUES) for _ in range(rng.randint(0, 40))]
        fast, reference = both(values, formats)
        assert_frame_equal(fast, reference)


def test_a_format_change_deep_in_a_large_column_still_parses_every_value() -> None:
    values = ["2024-01-01 10:00:00"] * 150_000 + ["03/04/2024 01:02:03 PM"] * 150_000 + [None, "x"]
    fast, reference = both(values, CITY_FORMATS)
    assert_frame_equal(fast, reference)
    parsed = fast.to_series()
    assert parsed[0] == dt.datetime(2024, 1, 1, 10) and parsed[150_000] == dt.datetime(2024, 3, 4, 13, 2, 3)
    assert parsed.null_count() == 2


def test_a_file_mixing_timestamp_formats_is_accepted_and_quarantined_as_before(monkeypatch) -> None:
    profile = resolve_profile("civicloop_city")
    header = "Case ID,Opened,Closed,First Response,Status,Service Code,Ward,Channel,Description\n"
    rows = [
        "SR1,2024-01-01 10:00:00,2024-01-02 11:00:00,,Closed,POT,1,web,Pothole",
        "SR2,2024-01-01 10:00:00,01/03/2024 02:30:00 PM,2024-01-01T12:00:00,Closed,POT,1,web,",
        "SR3,01/05/2024 09:15,2024-01-06 08:00:00,,Closed,POT,1,web,",
        "SR4,2024-01-07 10:00:00,2024-31-01 10:00:00,,Closed,POT,1,web,",
        "SR5,tomorrow,,,Open,POT,1,web,",
        "SR6,2024-01-08 10:00:00,2024-01-07 10:00:00,,Closed,POT,1,web,",
    ]
    frame = read_feedback_file(header + "\n".join(rows) + "\n", profile)
    aliases = pl.LazyFrame({"alias_normalised": ["1"], "district_code": ["D01"]})

    def parse() -> tuple[pl.DataFrame, pl.DataFrame]:
        parsed = parse_feedback(
            frame.lazy(),
            profile,
            aliases,
            source_file="city311_2024-01-08.csv",
            pseudonym_key=b"k" * 32,
            now=dt.datetime(2026, 1, 1),
        )
        accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])
        return accepted, quarantined

    accepted, quarantined = parse()
    monkeypatch.setattr(feedback, "parse_timestamp", parse_timestamp_every_format)
    reference_accepted, reference_quarantined = parse()
    assert_frame_equal(accepted, reference_accepted)
    assert_frame_equal(quarantined, reference_quarantined)
    assert accepted.height + quarantined.height == frame.height
    assert accepted.get_column("request_id").to_list() == ["SR1", "SR2", "SR3"]
    assert accepted.get_column("closed_at").to_list()[1] == dt.datetime(2024, 1, 3, 14, 30)
    assert accepted.get_column("opened_at").to_list()[2] == dt.datetime(2024, 1, 5, 9, 15)
    reasons = quarantined.get_column("reason").to_list()
    assert reasons[0].startswith("closed date '2024-31-01 10:00:00' does not match any of the profile's")
    assert reasons[1].startswith("opened date 'tomorrow' does not match any of the profile's formats")
    assert reasons[2].startswith("closed date 2024-01-07 10:00:00")
