"""Turn delivered bytes into clean text and string-typed frames, or explain why a file is unreadable."""

from __future__ import annotations

import io
import json
import re
from typing import Any, cast

import charset_normalizer
import ftfy
import msgspec
import polars as pl

# Double-encoded UTF-8 shows up as these lead characters followed by a continuation-range char.
MOJIBAKE_MARKER = re.compile(
    "[\u00c2\u00c3\u00c5\u00e2][\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]"
)
# Every mojibake sequence starts with one of these; a plain substring test rules most files out
# far faster than the regex scan (which cost ~3 s per million requests of text).
MOJIBAKE_LEADS = "\u00c2\u00c3\u00c5\u00e2"
BLANK_INDEX_COLUMN = re.compile(r"^(|Unnamed: ?0|\.\.\.1|X|_duplicated_\d+|column_1)$")


class UnreadableFileError(ValueError):
    """The whole file cannot be read as the expected format; it is rejected, not partly loaded."""


def decode_bytes(payload: bytes) -> str:
    """Decode UTF-8, cp1252 or latin-1 bytes and repair double-encoded UTF-8 (mojibake)."""
    if not payload.strip():
        raise UnreadableFileError("file is empty")
    if b"\x00" in payload[:65536]:
        raise UnreadableFileError("file contains NUL bytes: binary data, not text")
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(payload).best()
        encoding = best.encoding if best is not None else "cp1252"
        # cp1252 is the overwhelmingly common non-UTF-8 export encoding; prefer it to exotic guesses.
        if encoding not in {"cp1252", "latin_1", "iso8859_15", "utf_8"}:
            encoding = "cp1252"
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            text = payload.decode("latin-1")
    if _looks_binary(text):
        raise UnreadableFileError("file is not text: too many control characters")
    if "\r" in text:
        # Old Mac exports end lines with a bare CR and hand-merged files mix CRLF, CR and LF; the
        # CSV reader only splits on LF, so a bare CR would glue rows together.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if any(lead in text for lead in MOJIBAKE_LEADS) and MOJIBAKE_MARKER.search(text):
        text = "\n".join(
            ftfy.fix_encoding(line) if MOJIBAKE_MARKER.search(line) else line for line in text.split("\n")
        )
    return text


# Control characters other than tab, LF and CR: text exports have next to none.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    controls = len(_CONTROL_CHARACTERS.findall(sample))
    return controls > max(5, len(sample) // 100)


def read_csv_text(text: str, delimiter: str = ",") -> pl.DataFrame:
    """Parse CSV text into an all-string frame with a 1-based ``_line`` (header = line 1).

    Blank row-index columns written by R or pandas are dropped. A file that parses into a single
    column or no data rows is rejected: that is a wrong delimiter or a header-only export.
    """
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=delimiter,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except Exception as error:  # polars raises several error types for malformed CSV
        raise UnreadableFileError(f"CSV cannot be parsed: {error}") from error
    if frame.width <= 1:
        raise UnreadableFileError(
            f"CSV has {frame.width} column with delimiter {delimiter!r}: wrong delimiter or not a CSV"
        )
    if frame.height == 0:
        raise UnreadableFileError("CSV has a header but no data rows")
    first = frame.columns[0]
    if BLANK_INDEX_COLUMN.match(first.strip()):
        frame = frame.drop(first)
    frame = frame.rename({name: name.strip() for name in frame.columns})
    return frame.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))


def _nested_json_type(levels: int) -> Any:
    """JSON values nested at most ``levels`` containers deep, as a msgspec type."""
    value: Any = str | int | float | bool | None
    for _ in range(levels):
        value = str | int | float | bool | None | list[value] | dict[str, value]
    return value


# msgspec decodes JSON about twice as fast as json.loads, to the same Python values: arbitrary-size
# ints, floats rounded alike, the last of duplicate keys. The depth bound (enough for Open311
# records and GeoJSON multipolygons; the type grows exponentially with it) keeps msgspec well
# inside the recursion limit, where the stdlib parser and its limit of about 1000 levels decide.
_FAST_JSON = msgspec.json.Decoder(_nested_json_type(8))


def load_json(text: str, what: str = "JSON") -> object:
    """``json.loads``'s value for ``text``; every failure on malformed input is an ``UnreadableFileError``."""
    try:
        return _FAST_JSON.decode(text)
    except Exception:
        # msgspec rejects some documents json.loads reads (NaN and Infinity, numbers beyond a
        # double, lone surrogates, deeper nesting): json.loads is the reference for every
        # document msgspec declines, and its messages are the ones the quarantine shows.
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFileError(f"invalid {what}: {error.msg} at line {error.lineno}") from error
    except ValueError as error:
        # e.g. an integer literal longer than Python's 4300-digit conversion limit.
        raise UnreadableFileError(f"invalid {what}: {error}") from error
    except RecursionError as error:
        # The stdlib parser recurses per nesting level; no record format nests anywhere near this.
        raise UnreadableFileError(f"invalid {what}: nested too deeply to read (over ~1000 levels)") from error


def read_json_records(text: str) -> list[dict[str, object]]:
    """Parse a JSON array of objects (also ``{"service_requests": [...]}``-style wrappers)."""
    document = load_json(text)
    if isinstance(document, dict):
        lists = [value for value in document.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise UnreadableFileError("JSON object does not wrap exactly one array of records")
        document = lists[0]
    if not isinstance(document, list):
        raise UnreadableFileError("JSON is neither an array of records nor an object wrapping one")
    if not document:
        raise UnreadableFileError("JSON array holds no records")
    not_objects = [index for index, record in enumerate(document, 1) if not isinstance(record, dict)]
    if not_objects:
        raise UnreadableFileError(f"JSON records {not_objects[:5]} are not objects")
    return document


def flatten_records(records: list[dict[str, object]]) -> pl.DataFrame:
    """Records to an all-string frame; nested objects become ``parent.child`` columns.

    Columns are sorted by name; non-string values are written as ``_scalar_text`` does.
    """
    try:
        frame = _flatten_by_key(records)
    except Exception:
        # The record-by-record path is the reference: on anything unexpected (a lone surrogate
        # that UTF-8 cannot encode, say) it raises or succeeds exactly as it always did.
        frame = None
    if frame is None:
        frame = _flatten_by_record(records)
    return frame.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))


def _flatten_by_key(records: list[dict[str, object]]) -> pl.DataFrame | None:
    """``_flatten_by_record``'s frame built a column at a time, or None where only it can decide.

    Gathering one key across all records and letting polars take the all-string columns as they
    are is about twice as fast as building a dict per row. A flattened name that occurs twice (a
    literal ``"a.b"`` key beside ``"a": {"b": ...}``) is left to the record path, where the key
    order inside each record decides; so is a frame without columns.
    """
    columns: dict[str, pl.Series] = {}

    def add(name: str, values: list[object]) -> bool:
        if name in columns:
            return False
        columns[name] = _text_series(name, values)
        return True

    for key in set().union(*records):
        values = [record.get(key) for record in records]
        kinds = set(map(type, values))
        if dict in kinds:
            nested = cast(
                "list[dict[str, object]]",
                values if kinds == {dict} else [value if value.__class__ is dict else {} for value in values],
            )
            for child in set().union(*nested):
                if not add(f"{key}.{child}", [value.get(child) for value in nested]):
                    return None
            # The record path makes a ``key`` column only from a record holding a non-object there,
            # an explicit null included, which ``get`` cannot tell from an absent key.
            holds_plain = bool(kinds - {dict, type(None)}) or (
                type(None) in kinds and any(key in record and record[key] is None for record in records)
            )
            if not holds_plain:
                continue
            values = [None if value.__class__ is dict else value for value in values]
        if not add(key, values):
            return None
    if not columns:
        return None
    return pl.DataFrame([columns[name] for name in sorted(columns)])


def _text_series(name: str, values: list[object]) -> pl.Series:
    """A String series of the values, each written as ``_scalar_text`` writes it."""
    try:
        return pl.Series(name, values, dtype=pl.String)
    except TypeError:  # polars takes only strings and nulls as text
        pass
    kinds = set(map(type, values)) - {type(None)}
    try:
        if kinds == {int}:
            return pl.Series(name, values, dtype=pl.Int64).cast(pl.String)
        if kinds == {float}:
            numbers = pl.Series(name, values, dtype=pl.Float64)
            size = numbers.abs()
            # polars writes a finite float as str() does unless it is below 1e-4 in magnitude ("1e-5"
            # or "0.00001" for str()'s "1e-05"); a column holding one goes through str().
            if ((size >= 1e-4) & size.is_finite() | (size == 0)).all():
                return numbers.cast(pl.String)
    except TypeError:  # an integer beyond Int64
        pass
    texts = [value if value.__class__ is str else _scalar_text(value) for value in values]
    return pl.Series(name, texts, dtype=pl.String)


def _flatten_by_record(records: list[dict[str, object]]) -> pl.DataFrame:
    flat_rows: list[dict[str, str | None]] = []
    append = flat_rows.append
    # Most values are already strings: test the exact type first (json.loads makes plain str and
    # dict), which keeps this per-value loop a third cheaper on large Open311 exports.
    for record in records:
        row: dict[str, str | None] = {}
        for key, value in record.items():
            if value.__class__ is str:
                row[key] = value  # type: ignore[assignment]
            elif value.__class__ is dict:
                for child, child_value in value.items():  # type: ignore[attr-defined]
                    row[f"{key}.{child}"] = (
                        child_value if child_value.__class__ is str else _scalar_text(child_value)
                    )
            else:
                row[key] = _scalar_text(value)
        append(row)
    columns = sorted({key for row in flat_rows for key in row})
    return pl.from_dicts(flat_rows, schema={column: pl.String for column in columns})


def _scalar_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
