"""flatten_records: the column-at-a-time path gives exactly the record-by-record path's frame.

load_json: the msgspec decoder gives exactly json.loads's values, or leaves the document to it.

Also split_rows, which builds reason texts for quarantined rows only, with the texts as before.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.ingest.decoding import (
    _FAST_JSON,
    UnreadableFileError,
    _flatten_by_key,
    _flatten_by_record,
    flatten_records,
    load_json,
    read_json_records,
)
from pipelines.ingest.validation import (
    LINE,
    NULL_VALUE_REASON,
    implausible_date_reason,
    reason_if,
    source,
    split_rows,
    with_source_prefix,
)

# Values whose text form is easy to get wrong: floats polars and str() write differently below
# 1e-4, integers beyond Int64, -0.0, bools (not "True"), NaN/Infinity (json.loads accepts them).
TRICKY_VALUES: list[object] = [
    "plain",
    "Zoë — ünïcode ✓ 日本",
    "",
    "a\x00b",
    None,
    True,
    False,
    0,
    -7,
    2**63 - 1,
    2**63,
    -(2**70),
    0.0,
    -0.0,
    1.0,
    0.1,
    39.987326,
    -89.629275,
    1e-4,
    1e-5,
    1e-7,
    2.5e-5,
    -3.1e-9,
    1e-300,
    1e15,
    1e16,
    1e20,
    1.2345678901234568e17,
    float("nan"),
    float("inf"),
    float("-inf"),
    [1, "two", None],
    [],
    {"deeper": {"still": 1}},
]


def _reference(records: list[dict[str, object]]) -> pl.DataFrame:
    frame = _flatten_by_record(records)
    return frame.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))


def _assert_fast_path_matches(records: list[dict[str, object]]) -> None:
    fast = _flatten_by_key(records)
    assert fast is not None, "the column path gave up on records it should handle"
    assert_frame_equal(flatten_records(records), _reference(records))


def test_open311_like_records_with_gaps_match_the_record_path() -> None:
    records: list[dict[str, object]] = [
        {
            "service_request_id": "SR-1",
            "lat": 39.987326,
            "long": -89.629275,
            "media_url": None,
            "extended_attributes": {"district": "Ward 11", "reopened_count": 0, "fixed_confirmed": None},
        },
        # Missing keys, a null nested object, an extra nested key and unicode.
        {"service_request_id": "SR-2", "description": "Straße gesperrt ✓", "extended_attributes": None},
        {
            "service_request_id": "SR-3",
            "lat": 40.0,
            "extended_attributes": {"district": "D01", "reopened_count": 2, "channel": "web"},
        },
    ]
    _assert_fast_path_matches(records)
    frame = flatten_records(records)
    assert frame.columns == [
        "_line",
        "description",
        "extended_attributes",
        "extended_attributes.channel",
        "extended_attributes.district",
        "extended_attributes.fixed_confirmed",
        "extended_attributes.reopened_count",
        "lat",
        "long",
        "media_url",
        "service_request_id",
    ]
    assert frame["lat"].to_list() == ["39.987326", None, "40.0"]
    assert frame["extended_attributes.reopened_count"].to_list() == ["0", None, "2"]


@pytest.mark.parametrize("value", TRICKY_VALUES, ids=repr)
def test_every_kind_of_value_is_written_as_the_record_path_writes_it(value: object) -> None:
    # Alone in a column, beside strings, and nested one level down.
    records: list[dict[str, object]] = [
        {"alone": value, "mixed": value, "nested": {"child": value}, "id": "1"},
        {"alone": value, "mixed": "text", "nested": {"child": value}, "id": "2"},
        {"alone": None, "id": "3"},
    ]
    _assert_fast_path_matches(records)


def test_random_records_match_the_record_path() -> None:
    rng = random.Random(20240701)
    keys = ["a", "b", "c", "zip", "when", "ext", "Ä"]
    for _ in range(200):
        records: list[dict[str, object]] = []
        for _ in range(rng.randint(1, 12)):
            record: dict[str, object] = {}
            for key in rng.sample(keys, rng.randint(0, len(keys))):
                if rng.random() < 0.25:
                    record[key] = {
                        child: rng.choice(TRICKY_VALUES)
                        for child in rng.sample(["x", "y", "z"], rng.randint(0, 3))
                    }
                else:
                    record[key] = rng.choice(TRICKY_VALUES)
            records.append(record)
        if not any(records):
            continue  # no columns at all: left to the record path (see below)
        _assert_fast_path_matches(records)


def test_a_key_that_is_an_object_in_some_records_and_not_in_others() -> None:
    # A column for the plain key only exists where some record holds a non-object (null included).
    _assert_fast_path_matches([{"k": {"x": "1"}}, {"other": "2"}])
    _assert_fast_path_matches([{"k": {"x": "1"}}, {"k": None}])
    _assert_fast_path_matches([{"k": {"x": "1"}}, {"k": "flat"}, {}])
    assert "k" not in flatten_records([{"k": {"x": "1"}}, {"other": "2"}]).columns
    assert flatten_records([{"k": {"x": "1"}}, {"k": None}])["k"].to_list() == [None, None]


def test_parsed_json_text_matches_the_record_path() -> None:
    text = json.dumps(
        {
            "service_requests": [
                {"id": "1", "lat": 1.5, "n": 3, "ok": True, "tags": ["a"], "ext": {"d": "D1", "v": 1e-5}},
                {"id": "2", "lat": 2, "n": None, "ok": False, "ext": {"d": None}},
            ]
        },
        ensure_ascii=False,
    )
    records = read_json_records(text + "\n")
    _assert_fast_path_matches(records)
    # An integer among floats keeps its own form, as json.loads gave it.
    assert flatten_records(records)["lat"].to_list() == ["1.5", "2"]
    assert flatten_records(records)["ext.v"].to_list() == ["1e-05", None]


@pytest.mark.parametrize(
    "records",
    [
        # A literal dotted key beside the nested one: the key order inside each record decides.
        [{"a.b": "flat", "a": {"b": "nested"}}, {"a": {"b": "nested"}, "a.b": "flat"}],
        [{"a": {"b.c": "1"}, "a.b": {"c": "2"}}],
        # No columns at all.
        [{}, {}],
    ],
    ids=["dotted-key-collision", "nested-collision", "no-columns"],
)
def test_shapes_only_the_record_path_can_decide_fall_back_to_it(records: list[dict[str, object]]) -> None:
    assert _flatten_by_key(records) is None
    assert_frame_equal(flatten_records(records), _reference(records))


def test_collision_is_resolved_by_key_order_as_before() -> None:
    frame = flatten_records([{"a.b": "flat", "a": {"b": "nested"}}, {"a": {"b": "nested"}, "a.b": "flat"}])
    assert frame["a.b"].to_list() == ["nested", "flat"]
    assert frame.height == 2
    assert flatten_records([{}, {}])["_line"].to_list() == [1, 2]


def test_a_lone_surrogate_fails_exactly_as_the_record_path_does() -> None:
    records = read_json_records('[{"a": "ok", "b": "bad \\ud800 text"}, {"a": "\\udfff"}]')
    with pytest.raises(UnicodeEncodeError) as reference:
        _reference(records)
    with pytest.raises(UnicodeEncodeError) as fast:
        flatten_records(records)
    assert str(fast.value) == str(reference.value)


# JSON texts msgspec and json.loads could read differently. repr tells int from float and True from
# 1, shows every float digit and the key order, so equal reprs mean equal parses.
TRICKY_JSON = [
    '[{"big": 123456789012345678901234567890, "neg": -99999999999999999999, "u64": 18446744073709551616}]',
    '[{"a": 1, "b": 2, "a": "last wins, first position kept"}]',
    '[{"e": {"x": 1, "x": [2]}, "e": {"y": null}}]',
    '[{"mixed": 1}, {"mixed": "1"}, {"mixed": 1.0}, {"mixed": true}, {"mixed": null}]',
    '[{"mixed": [1, {"k": "v"}]}, {"mixed": {"k": 2}}, {"mixed": "flat"}]',
    '[{"f": 0.1, "g": 5e-324, "h": 1.7976931348623157e308, "i": 2.2250738585072011e-308, "j": -0.0}]',
    '[{"k": 1e5, "l": 10E-1, "m": 3.14159265358979323846264338327950288, "n": 1E400, "o": -1e400}]',
    '[{"p": NaN, "q": Infinity, "r": -Infinity}]',
    '[{"s": "Zo\\u00eb \\ud83d\\ude00 \\u2028 \\/ \\u0000", "t": "Zoë 😀 日本"}]',
    '[{"lone": "\\ud800", "low": "\\udc00x"}]',
    '[{"present": null}, {}]',
    '[{"": "empty key", "deep": [[[[[[[[1]]]]]]]]}]',
    '{"service_requests": [{"id": "1"}], "meta": {"count": 1}}',
    ' \n\t[{"a": 1}]\r\n',
    '[{"int": ' + "9" * 4300 + "}]",
]
MALFORMED_JSON = [
    "[{'a': 1}]",
    '[{"a": 1},]',
    '[{"a": 01}]',
    '[{"a": "tab\tinside"}]',
    '[{"a": 1}] trailing',
    '\ufeff[{"a": 1}]',
    '[{"a": ' + "9" * 4301 + "}]",
    "[" * 5000 + "]" * 5000,
]


@pytest.mark.parametrize("text", TRICKY_JSON)
def test_load_json_reads_what_json_loads_reads(text: str) -> None:
    assert repr(load_json(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", MALFORMED_JSON)
def test_load_json_rejects_what_json_loads_rejects_with_its_message(text: str) -> None:
    with pytest.raises((ValueError, RecursionError)) as reference:
        json.loads(text)
    with pytest.raises(UnreadableFileError) as fast:
        load_json(text)
    detail = reference.value.msg if isinstance(reference.value, json.JSONDecodeError) else ""
    assert detail in str(fast.value)


def test_the_fast_decoder_reads_ordinary_records_and_nesting_up_to_its_bound() -> None:
    # Without this the fast path could fall back on every file and the tests above would still pass.
    text = '[{"id": "1", "lat": 1.5, "n": 2**70, "ext": {"d": "D1"}}]'.replace("2**70", str(2**70))
    assert repr(_FAST_JSON.decode(text)) == repr(json.loads(text))
    assert _FAST_JSON.decode("[" * 8 + "]" * 8) == json.loads("[" * 8 + "]" * 8)


@pytest.mark.parametrize("depth", [9, 50, 990, 993, 996, 1000, 3000])
def test_deep_nesting_is_left_to_json_loads(depth: int) -> None:
    # msgspec itself would read a few levels deeper than the stdlib parser before its recursion error.
    for text in ("[" * depth + "]" * depth, '[{"a":' * depth + "1" + "}]" * depth):
        try:
            expected: object = json.loads(text)
        except RecursionError:
            with pytest.raises(UnreadableFileError, match="nested too deeply"):
                load_json(text)
        else:
            assert load_json(text) == expected


def test_random_json_documents_parse_as_json_loads_parses_them() -> None:
    rng = random.Random(20261201)
    pieces = ["a", "é", "😀", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\n", "\\\\", "\u2028", " ", "\t"]

    def number() -> str:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30)))
        fraction = rng.choice(["", "." + str(rng.randint(0, 10**20))])
        exponent = rng.choice(["", f"e{rng.randint(-330, 330)}", f"E+{rng.randint(0, 30)}"])
        return rng.choice(["", "-"]) + digits + fraction + exponent

    def string() -> str:
        return '"' + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 5))) + '"'

    def value(depth: int) -> str:
        roll = rng.random()
        if depth > 10 or roll < 0.35:
            return number()
        if roll < 0.6:
            return string()
        if roll < 0.7:
            return rng.choice(["true", "false", "null", "NaN", "-Infinity"])
        if roll < 0.85:
            return "[" + ", ".join(value(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
        return "{" + ", ".join(f"{string()}: {value(depth + 1)}" for _ in range(rng.randint(0, 4))) + "}"

    read = 0
    for _ in range(3000):
        text = "[" + ", ".join(value(2) for _ in range(rng.randint(1, 3))) + "]"
        try:
            expected = repr(json.loads(text))
        except ValueError:
            with pytest.raises(UnreadableFileError):
                load_json(text)
            continue
        assert repr(load_json(text)) == expected, text
        read += 1
    assert read > 300


def test_split_rows_builds_the_same_reason_texts_for_failing_rows_only() -> None:
    raw = pl.DataFrame(
        {
            LINE: [2, 3, 4, 5, 6, 7, 8],
            "n": ["ok", None, "ok", "ok", "bad", "x@y.org", "ok"],
            "d": ["2024-05-01", "2024-05-01", "1900-01-01", "2200-01-01", "2024-05-01", "2024-05-01", None],
            "q": ["a", "a", "a", "a", None, "a", "a"],
        }
    )
    typed = with_source_prefix(raw.lazy()).with_columns(
        source("n").alias("n"),
        source("q").alias("q"),
        source("d").str.strptime(pl.Datetime("us"), "%Y-%m-%d", strict=False).alias("d"),
    )
    reasons = [
        reason_if(pl.col("n").is_null(), "required n is empty"),
        reason_if(
            pl.col("d") > pl.lit(dt.datetime(2030, 1, 1)), pl.format("d {} is in the future", pl.col("d"))
        ),
        implausible_date_reason("d", pl.col("d")),
        reason_if(pl.col("n") == "bad", pl.format("n '{}' beside q '{}'", pl.col("n"), pl.col("q"))),
        reason_if(pl.col("n").str.contains("@"), pl.format("n '{}' is an address", pl.col("n"))),
    ]
    parsed = split_rows(typed, reasons, ["n", LINE], ["n", "d", "q"], ["q"])
    accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])

    # A check on an empty value (line 8 has no date) does not fail the row.
    assert accepted.rows() == [("ok", 2), ("ok", 8)]
    stamp = "00:00:00.000000"
    assert quarantined.select("line", "reason").rows() == [
        (3, "required n is empty"),
        (4, f"d 1900-01-01 {stamp} is before 1990-01-01: a placeholder, not a real date"),
        (5, f"d 2200-01-01 {stamp} is in the future; d 2200-01-01 {stamp} is after 2100-01-01"),
        (6, NULL_VALUE_REASON),
        (7, "n '[EMAIL]' is an address"),
    ]
    assert quarantined["raw_record"][0] == '{"n":null,"d":"2024-05-01","q":"[REDACTED]"}'
    assert sorted([*accepted[LINE], *quarantined["line"]]) == raw[LINE].to_list()


def test_split_rows_without_reasons_accepts_every_row() -> None:
    typed = with_source_prefix(pl.LazyFrame({LINE: [2, 3], "n": ["a", None]}))
    parsed = split_rows(typed, [], [LINE], ["n"], [])
    accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])
    assert accepted.height == 2
    assert quarantined.height == 0
