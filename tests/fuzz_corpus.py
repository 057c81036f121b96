"""A seeded generator of malformed inbox files for every ingest source (issue 8, reliability).

``build_corpus(seed)`` returns a deterministic list of :class:`FuzzCase` (about 280 files): small
valid templates of each inbox format, mutated at the byte level (empty, truncated, binary junk,
invalid UTF-8, NUL bytes, BOMs, UTF-16, mixed line endings, 1 MB lines, huge fields), the CSV level
(wrong delimiters, ragged rows, unbalanced quotes, duplicate headers, wrong types, extreme dates,
10 000 columns) and the JSON level (duplicate keys, nesting 100 000 deep, lone surrogates, NaN,
scalars, XML in a ``.json`` file). ``codebook_cases`` holds broken survey codebooks, which are
configuration rather than data and therefore tested on their own.

Every identifier in a template starts with ``FZ`` (request ids, KPI ids, respondents, review
entries), so fuzz rows can never collide with a real city's keys; reference files are named
``0fuzz…`` so that they sort, and are therefore applied, before the real snapshot files.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from pipelines.generate.survey import codebook

# --- templates: tiny valid files of every format ----------------------------------------------


@dataclass(frozen=True)
class Template:
    """A small valid file of one inbox format and the columns a mutation may aim at."""

    key: str
    source: str
    name_pattern: str  # str.format with {i}: the file name of case i (must match the profile)
    text: str
    kind: str  # "csv", "json" or "geojson"
    date_columns: tuple[str, ...] = ()
    number_columns: tuple[str, ...] = ()


CITY_HEADER = (
    "Case ID,Opened,Closed,First Response,Status,Service Code,Category,Agency,Ward,Channel,"
    "Description,Reopened,Fixed Confirmed,Reporter Name,Reporter Email,Address,Latitude,Longitude"
)
CITY_ROWS = [
    f"FZ-C{n},2024-06-1{n} 09:00:00,2024-06-1{n} 17:00:00,2024-06-1{n} 10:00:00,Closed,POT,Streets,PW,"
    f"Ward {n},web,Pothole outside the school,0,yes,Fuzz Person,fuzz{n}@example.org,1 Fuzz Street,"
    "40.03,-89.65"
    for n in range(1, 5)
]
OPEN311_RECORDS = [
    {
        "service_request_id": f"FZ-O{n}",
        "status": "closed",
        "service_name": "Pothole",
        "service_code": "POT",
        "description": "Deep pothole",
        "agency_responsible": "PW",
        "requested_datetime": f"2024-06-1{n}T08:00:00-05:00",
        "updated_datetime": f"2024-06-1{n}T12:00:00-05:00",
        "lat": 40.03,
        "long": -89.65,
        "extended_attributes": {
            "district": f"D0{n}",
            "channel": "app",
            "closed_datetime": f"2024-06-1{n}T12:00:00-05:00",
            "first_response_datetime": f"2024-06-1{n}T09:00:00-05:00",
            "reopened_count": 0,
            "fixed_confirmed": "yes",
            "reporter_name": "Fuzz Person",
            "reporter_email": "fuzz@example.org",
        },
    }
    for n in range(1, 4)
]
KPI_TEXT = "agency,kpi_id,kpi_name,period,actual,target,desired_change,unit\n" + "".join(
    f"PW,FZ_kpi_{n},Fuzz KPI {n},2024-0{n},0.5,0.6,U,share\n" for n in range(1, 4)
)
SURVEY_COLUMNS = ["respondent_id", "wave", "district", "age_band", "sex", "home_internet"] + [
    question["column"] for question in codebook()["questions"]
]
SURVEY_TEXT = (
    ",".join(SURVEY_COLUMNS)
    + "\n"
    + "".join(
        f"FZ-R{n},2024Q1,D0{n},35-54,F,Yes,Agree,Satisfied,Disagree,No,Agree,Yes,Yes\n" for n in range(1, 4)
    )
)
REVIEW_HEADER = (
    "entry_id,recorded_at,recorded_by,review_quarter,indicator_id,decision,new_target,effective_from,"
    "action_text,action_owner,action_due,action_status,action_completed_on,rationale,corrects_entry_id"
)
REVIEW_TEXT = (
    REVIEW_HEADER
    + "\n"
    + "".join(
        f"FZ-E{n},2024-04-15T10:00:00,board,2024Q1,c1_fuzz,add_action,,,Train staff,HSG,2024-06-14,open,,"
        "Below target.,\n"
        for n in range(1, 3)
    )
)
GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"district_code": f"D0{n}", "district_name": f"Fuzz {n}"},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        }
        for n in range(1, 3)
    ],
}

TEMPLATES: tuple[Template, ...] = (
    Template(
        "city_csv",
        "feedback",
        "city311_2024-06-{i:04d}fz.csv",
        CITY_HEADER + "\n" + "\n".join(CITY_ROWS) + "\n",
        "csv",
        ("Opened", "Closed", "First Response"),
        ("Latitude", "Longitude", "Reopened"),
    ),
    Template(
        "open311",
        "feedback",
        "open311_requests_fz{i:04d}.json",
        json.dumps(OPEN311_RECORDS, indent=1),
        "json",
        ("requested_datetime", "updated_datetime"),
        ("lat", "long"),
    ),
    Template("kpis", "kpis", "kpis_fz{i:04d}.csv", KPI_TEXT, "csv", ("period",), ("actual", "target")),
    Template("survey", "survey", "survey_fz{i:04d}.csv", SURVEY_TEXT, "csv", ("wave",), ("Q1_trust",)),
    Template(
        "reviews",
        "reviews",
        "fz{i:04d}_review_history.csv",
        REVIEW_TEXT,
        "csv",
        ("recorded_at", "effective_from", "action_due"),
        ("new_target",),
    ),
    Template(
        "districts",
        "reference",
        "0fuzz{i:04d}_districts.csv",
        "district_code,district_name,aliases,digital_access_rate\nD01,North End,Ward 1|1,0.9\n"
        "D02,Riverside,Ward 2|2,0.8\n",
        "csv",
        (),
        ("digital_access_rate",),
    ),
    Template(
        "population",
        "reference",
        "0fuzz{i:04d}_population.csv",
        "district_code,age_band,sex,population\nD01,18-34,F,100\nD01,18-34,M,90\n",
        "csv",
        (),
        ("population",),
    ),
    Template(
        "services",
        "reference",
        "0fuzz{i:04d}_services.csv",
        "service_code,service_name,category,agency,sla_days\nPOT,Pothole,Streets,PW,5\n",
        "csv",
        (),
        ("sla_days",),
    ),
    Template(
        "geojson", "reference", "0fuzz{i:04d}_districts.geojson", json.dumps(GEOJSON, indent=1), "geojson"
    ),
)


@dataclass(frozen=True)
class FuzzCase:
    """One malformed file: where it goes, its name and bytes, and what was done to it."""

    source: str
    name: str
    payload: bytes
    template: str
    mutation: str


Mutation = Callable[[Template, random.Random], bytes]

# --- byte-level mutations (every template) ----------------------------------------------------


def _b(template: Template) -> bytes:
    return template.text.encode("utf-8")


def _truncate(fraction: float) -> Mutation:
    return lambda t, rng: _b(t)[: max(1, int(len(_b(t)) * fraction))]


def _inject(junk: bytes) -> Mutation:
    def mutate(template: Template, rng: random.Random) -> bytes:
        data = _b(template)
        at = rng.randrange(len(data) // 3, len(data))
        return data[:at] + junk + data[at:]

    return mutate


def _mid_utf8(template: Template, rng: random.Random) -> bytes:
    # A multi-byte character cut after its first byte: the classic truncated-upload tail.
    return _b(template).rstrip(b"\n") + "é".encode()[:1]


def _late_nul(template: Template, rng: random.Random) -> bytes:
    # NUL beyond the first 64 KiB, past the decoder's binary sniffing window.
    lines = template.text.splitlines()
    body = "\n".join([lines[0], *(lines[1:] * (70_000 // max(1, len(template.text)) + 2))])
    return body.encode() + b"\n" + lines[-1].encode().replace(b",", b"\x00,", 1) + b"\n"


BYTE_MUTATIONS: dict[str, Mutation] = {
    "empty": lambda t, rng: b"",
    "whitespace_only": lambda t, rng: b" \n\t\r\n  \n",
    "bom_only": lambda t, rng: b"\xef\xbb\xbf",
    "truncated_10pct": _truncate(0.1),
    "truncated_55pct": _truncate(0.55),
    "truncated_97pct": _truncate(0.97),
    "truncated_mid_utf8": _mid_utf8,
    "binary_junk": lambda t, rng: rng.randbytes(4096),
    "binary_junk_no_nul": lambda t, rng: bytes(b or 1 for b in rng.randbytes(4096)),
    "invalid_utf8": _inject(b"\xff\xfe\x80\xc0\xaf\xed\xa0\x80"),
    "lone_surrogate_bytes": _inject(b"\xed\xb3\xbf"),
    "nul_bytes": _inject(b"\x00\x00"),
    "nul_after_64k": _late_nul,
    "utf8_bom": lambda t, rng: b"\xef\xbb\xbf" + _b(t),
    "double_bom": lambda t, rng: b"\xef\xbb\xbf\xef\xbb\xbf" + _b(t),
    "utf16_le_bom": lambda t, rng: t.text.encode("utf-16"),
    "utf32": lambda t, rng: t.text.encode("utf-32"),
    "cp1252_specials": lambda t, rng: t.text.replace("Fuzz", "Fuzz \u2019\u20ac\u00e9").encode(
        "cp1252", "replace"
    ),
    "mixed_line_endings": lambda t, rng: b"".join(
        line + (b"\r\n", b"\r", b"\n")[i % 3] for i, line in enumerate(_b(t).splitlines())
    ),
    "cr_only": lambda t, rng: b"\r".join(_b(t).splitlines()) + b"\r",
    "control_chars": _inject(b"\x01\x02\x1b[31m\x7f\x08"),
    "gzip_bytes": lambda t, rng: gzip.compress(_b(t), mtime=0),
    "xml_document": lambda t, rng: b'<?xml version="1.0"?><requests><request><id>1</id></request></requests>',
    "xml_not_well_formed": lambda t, rng: b'<?xml version="1.0"?><requests><request><id>1</request>',
    "html_error_page": lambda t, rng: (
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    ),
    "one_mb_line": lambda t, rng: _b(t) + b"x" * (1 << 20) + b"\n",
}

# --- CSV-level mutations ----------------------------------------------------------------------


def _rows(template: Template) -> tuple[list[str], list[list[str]]]:
    import csv
    import io

    parsed = list(csv.reader(io.StringIO(template.text)))
    return parsed[0], parsed[1:]


def _csv(header: list[str], rows: list[list[str]], delimiter: str = ",", quote_all: bool = False) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _set_columns(columns: str, value: str) -> Mutation:
    """Set every data value of the template's date or number columns (or all columns) to value."""

    def mutate(template: Template, rng: random.Random) -> bytes:
        header, rows = _rows(template)
        targets = {
            "dates": template.date_columns,
            "numbers": template.number_columns,
            "all": tuple(header),
        }[columns]
        indexes = [header.index(name) for name in targets if name in header] or [len(header) - 1]
        return _csv(header, [[value if i in indexes else cell for i, cell in enumerate(row)] for row in rows])

    return mutate


def _delimiter(delimiter: str) -> Mutation:
    return lambda t, rng: _csv(*_rows(t), delimiter=delimiter)


def _ragged(extra: int) -> Mutation:
    def mutate(template: Template, rng: random.Random) -> bytes:
        header, rows = _rows(template)
        changed = [row + ["surplus"] * extra if extra > 0 else row[: len(row) + extra] for row in rows]
        return _csv(header, changed)

    return mutate


def _header_only(template: Template, rng: random.Random) -> bytes:
    return (template.text.splitlines()[0] + "\n").encode()


def _duplicate_header(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    return _csv([*header, header[0]], [[*row, row[0]] for row in rows])


def _renamed_header(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    return _csv([name.upper().replace(" ", "_") + " " for name in header], rows)


def _many_columns(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    return _csv([*header, *(f"extra_{i}" for i in range(10_000))], [[*row, *("1" * 10_000)] for row in rows])


def _many_rows(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    # Same key on every row: the loader must keep one row per key, not 20 000.
    return _csv(header, rows * 5_000)


def _huge_field(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    big = "A very long complaint. " * 200_000  # ~4.6 MB in one quoted field
    return _csv(header, [[*rows[0][:-1], big], *rows[1:]])


def _unbalanced_quote(template: Template, rng: random.Random) -> bytes:
    lines = template.text.splitlines()
    return ("\n".join([lines[0], '"' + lines[1], *lines[2:]]) + "\n").encode()


def _embedded_newlines(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    return _csv(header, [[cell + "\r\nsecond line\n" if cell else cell for cell in row] for row in rows])


def _whitespace_values(template: Template, rng: random.Random) -> bytes:
    header, rows = _rows(template)
    return _csv(header, [[f"  {cell}\t " for cell in row] for row in rows], quote_all=True)


def _blank_lines(template: Template, rng: random.Random) -> bytes:
    return ("\n\n".join(template.text.splitlines()) + "\n\n\n").encode()


CSV_MUTATIONS: dict[str, Mutation] = {
    "header_only": _header_only,
    "semicolon_delimiter": _delimiter(";"),
    "tab_delimiter": _delimiter("\t"),
    "pipe_delimiter": _delimiter("|"),
    "ragged_extra_columns": _ragged(2),
    "ragged_missing_columns": _ragged(-3),
    "duplicate_header": _duplicate_header,
    "renamed_header": _renamed_header,
    "unbalanced_quote": _unbalanced_quote,
    "embedded_newlines": _embedded_newlines,
    "whitespace_values": _whitespace_values,
    "blank_lines": _blank_lines,
    "ten_thousand_columns": _many_columns,
    "twenty_thousand_rows": _many_rows,
    "huge_field_5mb": _huge_field,
    "wrong_types": _set_columns("all", "not-a-value"),
    "numbers_text": _set_columns("numbers", "lots"),
    "numbers_nan": _set_columns("numbers", "NaN"),
    "numbers_inf": _set_columns("numbers", "-inf"),
    "numbers_overflow": _set_columns("numbers", "1e400"),
    "numbers_bigint": _set_columns("numbers", "99999999999999999999999999"),
    "numbers_negative": _set_columns("numbers", "-1"),
    "dates_year_0001": _set_columns("dates", "0001-01-01 00:00:00"),
    "dates_year_9999": _set_columns("dates", "9999-12-31 23:59:59"),
    "dates_epoch_0": _set_columns("dates", "1970-01-01 00:00:00"),
    "dates_epoch_int": _set_columns("dates", "0"),
    "dates_feb_30": _set_columns("dates", "2024-02-30 10:00:00"),
    "dates_month_13": _set_columns("dates", "2024-13-01 00:00:00"),
    "dates_year_99999": _set_columns("dates", "99999-01-01 00:00:00"),
    "dates_iso_offset": _set_columns("dates", "2024-06-01T10:00:00+14:00"),
    "formula_injection": _set_columns("all", '=HYPERLINK("http://evil.example","x")'),
    "unicode_bidi_emoji": _set_columns("all", "\u202egnp.exe \U0001f4a9 \u0000"[:-1]),
}
# Short date columns (KPI period, survey wave) get their own extreme values.
SHORT_DATES = {
    "kpis": ["0001-01", "9999-12", "1970-01", "0000-00", "2024-13", "-001-01", "99999-01"],
    "survey": ["0001Q1", "9999Q4", "1970Q1", "2024Q9", "Q1", "0000Q0", "99999Q1"],
    "reviews": ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "1970-01-01T00:00:00"],
}

# --- JSON-level mutations ---------------------------------------------------------------------


def _records(template: Template) -> list[dict]:
    document = json.loads(template.text)
    return document["features"] if template.kind == "geojson" else document


def _wrap(template: Template, records: object) -> bytes:
    if template.kind == "geojson":
        return json.dumps({"type": "FeatureCollection", "features": records}).encode()
    return json.dumps(records).encode()


def _field(value: object) -> Mutation:
    """Replace the first date (or, for GeoJSON, the properties) of every record by value."""

    def mutate(template: Template, rng: random.Random) -> bytes:
        records = _records(template)
        for record in records:
            if template.kind == "geojson":
                record["properties"] = value
            else:
                for name in template.date_columns:
                    record[name] = value
        return _wrap(template, records)

    return mutate


def _duplicate_keys(template: Template, rng: random.Random) -> bytes:
    text = template.text
    key = '"service_request_id"' if template.kind == "json" else '"district_code"'
    return text.replace(key + ":", key + ': "FZ-DUP", ' + key + ":").encode()


def _deep(depth: int, inside_record: bool) -> Mutation:
    def mutate(template: Template, rng: random.Random) -> bytes:
        nested = "[" * depth + "]" * depth
        if not inside_record:
            return nested.encode()
        body = template.text.rstrip()
        if template.kind == "geojson":
            return body.replace('"geometry": {', f'"geometry": {{"deep": {nested}, ', 1).encode()
        return body.replace('"status":', f'"deep": {nested}, "status":', 1).encode()

    return mutate


def _extended(value: object) -> Mutation:
    def mutate(template: Template, rng: random.Random) -> bytes:
        records = _records(template)
        for record in records:
            if template.kind == "geojson":
                record["geometry"] = value
            else:
                record["extended_attributes"] = value
        return _wrap(template, records)

    return mutate


def _many_keys(template: Template, rng: random.Random) -> bytes:
    records = _records(template)
    for record in records:
        (record.get("properties", record) if isinstance(record, dict) else record).update(
            {f"k{i}": i for i in range(5_000)}
        )
    return _wrap(template, records)


def _colliding_keys(template: Template, rng: random.Random) -> bytes:
    records = _records(template)
    for record in records:
        record["extended_attributes.district"] = "Narnia"  # collides with the flattened nested key
        record[""] = "empty key"
        record["Service_Request_ID"] = "case variant"
    return _wrap(template, records)


JSON_MUTATIONS: dict[str, Mutation] = {
    "duplicate_keys": _duplicate_keys,
    "nesting_100k_document": _deep(100_000, False),
    "nesting_5k_in_record": _deep(5_000, True),
    "nesting_500_in_record": _deep(500, True),
    "top_level_null": lambda t, rng: b"null",
    "top_level_number": lambda t, rng: b"42",
    "top_level_string": lambda t, rng: b'"requests"',
    "top_level_true": lambda t, rng: b"true",
    "empty_array": lambda t, rng: b"[]",
    "empty_object": lambda t, rng: b"{}",
    "array_of_numbers": lambda t, rng: b"[1, 2, 3]",
    "array_of_nulls": lambda t, rng: b"[null, null]",
    "array_of_arrays": lambda t, rng: b"[[1], [2]]",
    "mixed_array": lambda t, rng: _wrap(t, [*_records(t), 7, "x", None]),
    "object_two_arrays": lambda t, rng: json.dumps({"a": _records(t), "b": _records(t)}).encode(),
    "object_wrapper": lambda t, rng: json.dumps({"service_requests": _records(t)}).encode(),
    "nan_infinity": lambda t, rng: (
        t.text.replace("40.03", "NaN").replace("-89.65", "-Infinity").replace('"D01"', "Infinity").encode()
    ),
    "huge_number": lambda t, rng: t.text.replace("40.03", "1e400").replace("-89.65", "9" * 5000).encode(),
    "lone_surrogate_escape": lambda t, rng: (
        t.text.replace("Deep pothole", "bad \\ud800 text").replace('"Fuzz 1"', '"\\udfff"').encode()
    ),
    "escaped_nul": lambda t, rng: (
        t.text.replace("Deep pothole", "nul \\u0000 here").replace('"Fuzz 1"', '"\\u0000"').encode()
    ),
    "trailing_comma": lambda t, rng: t.text.rstrip().rstrip("]}").rstrip().encode() + b",]",
    "ndjson": lambda t, rng: b"\n".join(json.dumps(r).encode() for r in _records(t)),
    "single_quotes": lambda t, rng: t.text.replace('"', "'").encode(),
    "js_comments": lambda t, rng: b"// exported\n/* header */\n" + _b(t),
    "dates_as_numbers": _field(0),
    "dates_as_objects": _field({"date": "2024-06-01"}),
    "dates_year_0001": _field("0001-01-01T00:00:00"),
    "dates_year_9999": _field("9999-12-31T23:59:59"),
    "dates_epoch_0": _field("1970-01-01T00:00:00Z"),
    "dates_as_list": _field(["2024-06-01T00:00:00"]),
    "nested_is_string": _extended("just text"),
    "nested_is_list": _extended([1, 2, {"district": "D01"}]),
    "nested_is_null": _extended(None),
    "nested_is_number": _extended(12),
    "five_thousand_keys": _many_keys,
    "colliding_keys": _colliding_keys,
    "record_is_list_in_features": lambda t, rng: _wrap(t, [[1, 2], *_records(t)]),
}

# --- codebooks (configuration, tested separately) ---------------------------------------------


def codebook_cases() -> dict[str, bytes]:
    """Broken ``codebook.yaml`` files delivered with survey data: each must fail clearly."""
    good = codebook()
    unknown_key = {**good, "questionz": []}
    wrong_type = {**good, "questions": "all of them"}
    bad_question = {**good, "questions": [{"id": "q", "column": "Q1_trust", "scale_max": "high"}]}
    return {
        "empty": b"",
        "yaml_null": b"null\n",
        "yaml_list": b"- 1\n- 2\n",
        "yaml_scalar": b"just a string\n",
        "syntax_error": b"name: x\n  questions: [\n",
        "tab_indent": b"name: x\n\tquestions: []\n",
        "binary": bytes(range(256)) * 4,
        "unknown_key": yaml.safe_dump(unknown_key).encode(),
        "wrong_type": yaml.safe_dump(wrong_type).encode(),
        "bad_question": yaml.safe_dump(bad_question).encode(),
        "python_tag": b"!!python/object/apply:os.system ['echo pwned']\n",
        "bad_regex": yaml.safe_dump({**good, "wave_column": None, "wave_from_filename": "(["}).encode(),
        "invalid_utf8": b"name: \xff\xfe\n",
    }


# --- the corpus -------------------------------------------------------------------------------


def build_corpus(seed: int = 8) -> list[FuzzCase]:
    """Every malformed file, deterministic for a seed; file names are unique across the corpus.

    Byte-level mutations hit every source's main format (the four reference files share one
    reader, so they take turns); CSV-level mutations each hit two CSV formats in rotation and
    JSON-level ones both JSON formats. That keeps the corpus near 300 files, enough to reach every
    reader path while a full ingest of it stays well under a minute.
    """
    rng = random.Random(seed)
    cases: list[FuzzCase] = []
    by_key = {template.key: template for template in TEMPLATES}
    primary = [by_key[key] for key in ("city_csv", "open311", "kpis", "survey", "reviews")]
    reference = [by_key[key] for key in ("districts", "population", "services", "geojson")]
    csv_templates = [template for template in TEMPLATES if template.kind == "csv"]
    json_templates = [template for template in TEMPLATES if template.kind != "csv"]

    def add(template: Template, mutation: str, payload: bytes) -> None:
        name = template.name_pattern.format(i=len(cases))
        cases.append(FuzzCase(template.source, name, payload, template.key, mutation))

    for index, (mutation, function) in enumerate(BYTE_MUTATIONS.items()):
        for template in [*primary, reference[index % len(reference)]]:
            add(template, mutation, function(template, rng))
    for index, (mutation, function) in enumerate(CSV_MUTATIONS.items()):
        for offset in (0, 1):
            template = csv_templates[(2 * index + offset) % len(csv_templates)]
            add(template, mutation, function(template, rng))
    for mutation, function in JSON_MUTATIONS.items():
        for template in json_templates:
            add(template, mutation, function(template, rng))
    for source, values in SHORT_DATES.items():
        template = next(template for template in primary if template.source == source)
        for value in values:
            add(template, f"short_date_{value}", _set_columns("dates", value)(template, rng))
    # An XML file named .xml (matches no profile) for every source.
    for template in primary + reference[:1]:
        add(
            Template(template.key, template.source, "unmatched_{i:04d}.xml", template.text, template.kind),
            "xml_file_extension",
            b'<?xml version="1.0"?><data><row a="1"/></data>',
        )
    return cases


if __name__ == "__main__":  # a quick census of the corpus
    from collections import Counter

    corpus = build_corpus()
    print(len(corpus), Counter(case.source for case in corpus))
