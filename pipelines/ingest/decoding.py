"""Turn delivered bytes into clean text and string-typed frames, or explain why a file is unreadable."""

from __future__ import annotations

import io
import json
import re

import charset_normalizer
import ftfy
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


def load_json(text: str, what: str = "JSON") -> object:
    """``json.loads`` whose every failure on malformed input is an ``UnreadableFileError``."""
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
    """Records to an all-string frame; nested objects become ``parent.child`` columns."""
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
    frame = pl.from_dicts(flat_rows, schema={column: pl.String for column in columns})
    return frame.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))


def _scalar_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
