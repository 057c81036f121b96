"""Ingestion library tests on small hand-written fixtures and real DuckDB files."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.ingest import ensure_warehouse_schema, ingest_source, profile_check, pseudonymise, redact_text
from pipelines.ingest.validation import normalise_district_key
from pipelines.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
CANARIES = [
    "canary.alice@example.org",
    "Alice Canaryfield",
    "617-555-0143",
    "12 Canary Street",
    "Canarysmith",
    "bob.canary@example.net",
    "77 Canary Lane",
    "canary.carol@example.com",
    "Canaryton",
    "Canaryview",
    "dana.canary@example.org",
    "617 555 0199",
    "5 Canary Road",
    "erin.canary@example.com",
    "frank.canary@example.com",
    "617-555-0111",
    "canary.gail@example.org",
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_warehouse_schema(connection)
    yield connection
    connection.close()


def deliver(settings: Settings, source: str, *files: Path | tuple[str, bytes]) -> None:
    inbox = settings.inbox_dir(source)
    inbox.mkdir(parents=True, exist_ok=True)
    for item in files:
        if isinstance(item, tuple):
            (inbox / item[0]).write_bytes(item[1])
        else:
            shutil.copy(item, inbox / item.name)


def load_reference(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    deliver(settings, "reference", *sorted((FIXTURES / "reference").iterdir()))
    ingest_source(con, settings, "reference")


def load_all_fixtures(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    load_reference(con, settings)
    for source in ("feedback", "kpis", "survey", "reviews"):
        deliver(settings, source, *sorted((FIXTURES / source).iterdir()))
        ingest_source(con, settings, source)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


CITY_HEADER = (
    "Case ID,Opened,Closed,First Response,Status,Service Code,Category,Agency,Ward,Channel,"
    "Description,Reopened,Fixed Confirmed,Reporter Name,Reporter Email,Address,Latitude,Longitude\n"
)


def city_row(case: str, opened: str, closed: str = "", status: str = "Open", description: str = "x") -> str:
    return f"{case},{opened},{closed},,{status},POT,Streets,Public Works,1,Phone,{description},0,,,,,,\n"


# --- privacy -------------------------------------------------------------------------------


def test_redact_text_replaces_each_kind_of_pii() -> None:
    texts = pl.DataFrame(
        {
            "t": [
                "mail jane.doe@example.org or call (555) 123-4567",
                "pothole outside 1540 W 17th St near 42 Elm Street",
                "Inspector Jones came; my name is Carla Mendes",
                "case 19937896 opened 2024-01-02 10:00:00",
                "Please ask Wilhelmina Canarybrook about the flooding at 4417 Canary Crescent",
                "Ask the city to fix the pothole on Main Street. Thank you",
                None,
            ]
        }
    )
    redacted = texts.select(redact_text(pl.col("t")))["t"].to_list()
    assert redacted == [
        "mail [EMAIL] or call [PHONE]",
        "pothole outside [ADDRESS] near [ADDRESS]",
        "[NAME] came; [NAME]",
        "case 19937896 opened 2024-01-02 10:00:00",
        "Please [NAME] about the flooding at [ADDRESS]",
        "Ask the city to fix the pothole on Main Street. Thank you",
        None,
    ]


def test_pseudonymise_is_keyed_stable_and_normalised() -> None:
    frame = pl.DataFrame({"id": ["A@x.org", " a@x.org ", "b@x.org", None, ""]})
    first = frame.select(pseudonymise(pl.col("id"), b"key-1"))["id"].to_list()
    other_key = frame.select(pseudonymise(pl.col("id"), b"key-2"))["id"].to_list()
    assert first[0] == first[1] != first[2]
    assert first[3] is None and first[4] is None
    assert len(first[0]) == 16 and first[0] != other_key[0]


@pytest.mark.parametrize("spelling", ["Ward 1", "01", "1", " ward 01 ", "WARD  1", "District 1"])
def test_district_spellings_normalise_to_one_key(spelling: str) -> None:
    assert pl.select(normalise_district_key(pl.lit(spelling))).item() == "1"


# --- mapping, quarantine, conservation -------------------------------------------------------


def test_every_source_loads_with_row_conservation_and_clear_reasons(con, settings) -> None:
    load_all_fixtures(con, settings)
    log = rows(con, "SELECT file, status, rows_read, rows_accepted, rows_quarantined FROM ops.load_log")
    assert {row[1] for row in log} == {"loaded"} and len(log) == 9
    for file, _, read, accepted, quarantined in log:
        assert read == accepted + quarantined, file
        assert rows(con, "SELECT count(*) FROM ops.quarantine WHERE file = ?", [file])[0][0] == quarantined
    reasons = dict(rows(con, "SELECT file || ':' || line, reason FROM ops.quarantine"))
    city = "city311_2024-03-01.csv"
    assert reasons[f"{city}:4"].startswith(
        "opened date '31/02/2024 10:00' does not match any of the profile's formats %Y-%m-%d %H:%M:%S"
    )
    assert reasons[f"{city}:5"].startswith("closed date 2024-02-28 11:00:00")
    assert "is before opened date" in reasons[f"{city}:5"]
    assert (
        "opened date 2099-01-01 00:00:00" in reasons[f"{city}:6"] and "in the future" in reasons[f"{city}:6"]
    )
    assert (
        reasons[f"{city}:7"]
        == "unknown district 'Narnia' (normalised 'narnia') is not in raw.district_aliases"
    )
    assert reasons[f"{city}:8"] == "required request id (column 'Case ID') is empty"
    assert reasons[f"{city}:9"] == "required service code (column 'Service Code') is empty"
    assert "opened date 'yesterday'" in reasons["open311_requests_2024-03-02.json:3"]
    assert reasons["survey_2024Q1.csv:4"] == "answer 11.0 to life_sat is outside the scale 1.0..10.0"
    assert reasons["kpis_2024-02.csv:5"] == "desired change 'X' is not one of U, D"
    assert reasons["population.csv:5"] == "population 'lots' is not a whole number"
    assert rows(con, "SELECT count(*) FROM raw.feedback_requests")[0][0] == 5


def test_city_profile_mapping_rules(con, settings) -> None:
    load_all_fixtures(con, settings)
    by_id = {
        row[0]: row[1:]
        for row in rows(
            con,
            "SELECT request_id, district_code, channel, status, closed_at, first_response_at, "
            "reopened_count, fixed_confirmed, lat, lon, reporter_pseudonym, source_format "
            "FROM raw.feedback_requests",
        )
    }
    assert by_id["C-1"][:8] == (
        "D01",
        "phone",
        "closed",
        dt.datetime(2024, 3, 2, 9, 30),
        dt.datetime(2024, 3, 1, 10),
        0,
        True,
        42.1,
    )
    assert by_id["C-2"][0] == "D02" and by_id["C-2"][7:9] == (
        None,
        None,
    )  # "02" alias; 0,0 coordinates dropped
    assert by_id["C-9"][0] is None and by_id["C-9"][1] == "social" and by_id["C-9"][2] is None  # null tokens
    assert by_id["C-1"][9] is not None and by_id["C-1"][9] != by_id["C-2"][9]
    assert by_id["C-1"][10] == "city_csv" and by_id["O-1"][10] == "open311"


def test_open311_reader_tolerates_messy_records(con, settings) -> None:
    load_all_fixtures(con, settings)
    o1, o2 = rows(
        con,
        "SELECT opened_at, updated_at, lat, description, district_code, closed_at, "
        "reopened_count, fixed_confirmed FROM raw.feedback_requests WHERE request_id LIKE 'O-%' "
        "ORDER BY request_id",
    )
    assert o1[:3] == (
        dt.datetime(2024, 3, 2, 8),
        dt.datetime(2024, 3, 2, 8, 5),
        None,
    )  # offset dropped, 0,0 -> null
    assert "\r\n" in o1[3] and "[PHONE]" in o1[3] and o1[4] == "D01"
    assert o2[3] is None and o2[4:] == ("D02", dt.datetime(2024, 3, 2, 9), 1, True)


def test_reference_kpi_survey_and_review_tables(con, settings) -> None:
    load_all_fixtures(con, settings)
    assert rows(
        con, "SELECT alias_normalised FROM raw.district_aliases WHERE district_code = 'D02' ORDER BY 1"
    ) == [("2",), ("d02",), ("river side",), ("riverside",)]
    assert rows(con, "SELECT count(*) FROM raw.district_boundaries")[0][0] == 2
    assert rows(
        con,
        "SELECT kpi_id, period_month, actual, target, desired_change FROM raw.kpi_observations ORDER BY 1",
    ) == [
        ("PW-01", dt.date(2024, 2, 1), 0.82, 0.9, "U"),
        ("PW-02", dt.date(2024, 2, 1), 14.0, 10.0, "D"),
    ]
    assert rows(
        con,
        "SELECT respondent_id, period_start, district_code, age_band, sex, digital_access "
        "FROM raw.survey_respondents ORDER BY 1",
    ) == [
        ("R1", dt.date(2024, 1, 1), "D01", "18-34", "F", True),
        ("R2", dt.date(2024, 1, 1), "D02", "35-54", "M", False),
    ]
    answers = {
        (r, q): (v, a)
        for r, q, v, a in rows(con, "SELECT respondent_id, question_id, value, agree FROM raw.survey_answers")
    }
    assert answers[("R1", "trust_city")] == (4.0, True) and answers[("R2", "trust_city")] == (1.0, False)
    assert ("R2", "life_sat") not in answers  # "NA" is a missing code, not an answer
    assert answers[("R1", "channels.web")] == (1.0, True) and answers[("R2", "channels.web")] == (0.0, False)
    assert rows(con, "SELECT entry_id, decision, action_text FROM raw.review_decisions") == [
        ("e1", "revise_target", "Call resident [EMAIL] back")
    ]
    # what the wave asked, and the indicator the codebook maps: one row per wave x question x file
    assert rows(
        con,
        "SELECT wave, period_start, question_id, top_box, indicator_id, codebook "
        "FROM raw.survey_questions ORDER BY question_id",
    ) == [
        ("2024Q1", dt.date(2024, 1, 1), "channels.app", 1.0, None, "fixture_survey"),
        ("2024Q1", dt.date(2024, 1, 1), "channels.phone", 1.0, None, "fixture_survey"),
        ("2024Q1", dt.date(2024, 1, 1), "channels.web", 1.0, None, "fixture_survey"),
        ("2024Q1", dt.date(2024, 1, 1), "life_sat", 8.0, None, "fixture_survey"),
        ("2024Q1", dt.date(2024, 1, 1), "trust_city", 4.0, "c4_trust", "fixture_survey"),
    ]


# --- PII ------------------------------------------------------------------------------------


def test_pii_canaries_never_reach_duckdb(con, settings, tmp_path) -> None:
    load_all_fixtures(con, settings)
    deliver(settings, "feedback", ("city311_2024-03-10.csv", b"Case ID,Opened\nZ,canary.zed@example.org\n"))
    ingest_source(con, settings, "feedback")
    con.execute("CHECKPOINT")
    text_columns = rows(
        con,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('raw', 'ops') AND data_type = 'VARCHAR'",
    )
    assert len(text_columns) > 40
    found = []
    for schema, table, column in text_columns:
        for canary in [*CANARIES, "canary.zed@example.org"]:
            hits = con.execute(
                f"SELECT count(*) FROM {schema}.{table} WHERE contains(lower({column}), lower(?))", [canary]
            ).fetchone()[0]
            if hits:
                found.append((schema, table, column, canary))
    assert found == []
    assert rows(con, "SELECT count(*) FROM ops.quarantine WHERE raw_record LIKE '%[REDACTED]%'")[0][0] >= 1


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        (CITY_HEADER + city_row("E-1", "2024-03-01 08:00:00", description="Café near crèche")).encode(
            "cp1252"
        ),
        (CITY_HEADER + city_row("E-1", "2024-03-01 08:00:00", description="Café near crèche"))
        .encode("utf-8")
        .decode("latin-1")
        .encode("utf-8"),
        b"\xef\xbb\xbf"
        + (CITY_HEADER + city_row("E-1", "2024-03-01 08:00:00", description="Café near crèche")).encode(
            "utf-8"
        ),
    ],
    ids=["cp1252", "double-encoded-utf8", "utf8-bom"],
)
def test_encodings_are_decoded_and_repaired(con, settings, payload: bytes) -> None:
    load_reference(con, settings)
    deliver(settings, "feedback", ("city311_2024-03-01.csv", payload))
    summary = ingest_source(con, settings, "feedback")
    assert summary.files_loaded == 1 and summary.rows_accepted == 1
    assert rows(con, "SELECT description FROM raw.feedback_requests") == [("Café near crèche",)]


def test_blank_r_index_column_is_dropped(con, settings) -> None:
    load_reference(con, settings)
    body = '"",' + CITY_HEADER + '"7",' + city_row("I-1", "2024-03-01 08:00:00")
    deliver(settings, "feedback", ("city311_2024-03-02.csv", body.encode()))
    assert ingest_source(con, settings, "feedback").rows_accepted == 1
    assert rows(con, "SELECT request_id FROM raw.feedback_requests") == [("I-1",)]


# --- idempotency and history -----------------------------------------------------------------


def test_same_file_again_is_duplicate_and_archived(con, settings) -> None:
    load_reference(con, settings)
    source_file = FIXTURES / "feedback" / "city311_2024-03-01.csv"
    deliver(settings, "feedback", source_file)
    first = ingest_source(con, settings, "feedback")
    deliver(settings, "feedback", source_file)
    second = ingest_source(con, settings, "feedback")
    assert (first.files_loaded, second.files_duplicate, second.rows_read, second.affected_days) == (
        1,
        1,
        0,
        frozenset(),
    )
    assert rows(
        con,
        "SELECT status, rows_read FROM ops.load_log WHERE source = 'feedback' "
        "ORDER BY loaded_at, status DESC",
    ) == [("loaded", 9), ("duplicate", 0)]
    assert rows(con, "SELECT count(*) FROM raw.feedback_requests")[0][0] == 3
    assert list(settings.inbox_dir("feedback").iterdir()) == []
    archived = list(settings.raw_archive_dir("feedback").glob("*/*__city311_2024-03-01.csv"))
    assert len(archived) == 1 and len(archived[0].name.split("__")[0]) == 12


def open311_record(request_id: str, status: str, requested: str, updated: str | None) -> dict[str, object]:
    return {
        "service_request_id": request_id,
        "status": status,
        "service_code": "POT",
        "service_name": "Pothole",
        "description": "hole",
        "requested_datetime": requested,
        "updated_datetime": updated,
        "extended_attributes": {"district": "D01", "channel": "app"},
    }


def test_status_history_keeps_one_row_per_version_across_batches_with_and_without_updated_at(
    con, settings
) -> None:
    """The history's duplicate check reads only the batch's updated_at range (and undated rows):
    a re-delivered version must still be recognised inside a later export's wider range. Open311
    records without updated_datetime are dated by their request time."""
    load_reference(con, settings)
    first = [
        open311_record("S-1", "open", "2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z"),
        open311_record("S-2", "open", "2024-03-01T10:00:00Z", None),
    ]
    second = [
        *first,  # the same two versions again, in a later export with a wider range
        open311_record("S-1", "closed", "2024-03-01T08:00:00Z", "2024-03-20T12:00:00Z"),
        open311_record("S-3", "open", "2024-01-05T08:00:00Z", "2024-01-05T08:00:00Z"),
    ]
    deliver(settings, "feedback", ("open311_requests_2024-03-01.json", json.dumps(first).encode()))
    ingest_source(con, settings, "feedback")
    deliver(settings, "feedback", ("open311_requests_2024-03-20.json", json.dumps(second).encode()))
    ingest_source(con, settings, "feedback")
    history = "SELECT request_id, status, updated_at FROM raw.feedback_status_history ORDER BY 1, 3"
    assert rows(con, history) == [
        ("S-1", "open", dt.datetime(2024, 3, 1, 9)),
        ("S-1", "closed", dt.datetime(2024, 3, 20, 12)),
        ("S-2", "open", dt.datetime(2024, 3, 1, 10)),
        ("S-3", "open", dt.datetime(2024, 1, 5, 8)),
    ]


def test_overlapping_export_updates_later_versions_and_records_history(con, settings) -> None:
    load_reference(con, settings)
    day_one = CITY_HEADER + city_row("H-1", "2024-03-01 08:00:00") + city_row("H-2", "2024-03-01 09:00:00")
    day_two = (
        CITY_HEADER
        + city_row("H-1", "2024-03-01 08:00:00", "2024-03-03 10:00:00", "Closed")
        + city_row("H-2", "2024-03-01 09:00:00")
        + city_row("H-3", "2024-03-03 07:00:00")
    )
    deliver(settings, "feedback", ("city311_2024-03-01.csv", day_one.encode()))
    ingest_source(con, settings, "feedback")
    deliver(settings, "feedback", ("city311_2024-03-03.csv", day_two.encode()))
    summary = ingest_source(con, settings, "feedback")
    assert summary.files_loaded == 1 and summary.rows_accepted == 3
    assert summary.affected_days == frozenset({dt.date(2024, 3, 1), dt.date(2024, 3, 3)})
    assert rows(
        con, "SELECT request_id, status, closed_at, source_file FROM raw.feedback_requests ORDER BY 1"
    ) == [
        ("H-1", "closed", dt.datetime(2024, 3, 3, 10), "city311_2024-03-03.csv"),
        ("H-2", "open", None, "city311_2024-03-01.csv"),
        ("H-3", "open", None, "city311_2024-03-03.csv"),
    ]
    assert rows(con, "SELECT request_id, status FROM raw.feedback_status_history ORDER BY 1, updated_at") == [
        ("H-1", "open"),
        ("H-1", "closed"),
        ("H-2", "open"),
        ("H-3", "open"),
    ]
    # A stale re-delivery of the old version changes nothing.
    deliver(settings, "feedback", ("city311_2024-03-04.csv", (day_one + city_row("H-9", "bad")).encode()))
    stale = ingest_source(con, settings, "feedback")
    assert stale.affected_days == frozenset()
    assert rows(con, "SELECT status FROM raw.feedback_requests WHERE request_id = 'H-1'") == [("closed",)]


def test_a_version_that_moves_the_opened_date_records_the_date_it_left(con, settings) -> None:
    load_reference(con, settings)
    day_one = CITY_HEADER + city_row("M-1", "2024-02-28 08:00:00") + city_row("M-2", "2024-02-28 09:00:00")
    corrected = (
        CITY_HEADER
        + city_row("M-1", "2024-03-01 08:00:00")  # opened date corrected into March
        + city_row("M-2", "2024-02-28 09:00:00", "2024-03-01 10:00:00", "Closed")  # closed, not moved
    )
    deliver(settings, "feedback", ("city311_2024-02-28.csv", day_one.encode()))
    ingest_source(con, settings, "feedback")
    deliver(settings, "feedback", ("city311_2024-03-01.csv", corrected.encode()))
    summary = ingest_source(con, settings, "feedback")

    # The month-partitioned dbt models rebuild February too, where M-1's old row lives.
    assert rows(con, "SELECT request_id, previous_opened_at, opened_at FROM raw.feedback_request_moves") == [
        ("M-1", dt.datetime(2024, 2, 28, 8), dt.datetime(2024, 3, 1, 8))
    ]
    assert dt.date(2024, 2, 28) in summary.affected_days


# --- whole-file rejection ----------------------------------------------------------------------


def test_unreadable_files_are_rejected_and_others_still_load(con, settings) -> None:
    load_reference(con, settings)
    deliver(
        settings,
        "feedback",
        *sorted((FIXTURES / "rejects").iterdir()),
        FIXTURES / "feedback" / "city311_2024-03-01.csv",
    )
    summary = ingest_source(con, settings, "feedback")
    assert (summary.files_seen, summary.files_loaded, summary.files_rejected) == (6, 1, 5)
    errors = dict(rows(con, "SELECT file, error FROM ops.load_log WHERE status = 'rejected'"))
    assert "binary" in errors["city311_2024-03-05.csv"]
    assert "header but no data rows" in errors["city311_2024-03-06.csv"]
    assert "1 column with delimiter ','" in errors["city311_2024-03-07.csv"]
    assert "invalid JSON" in errors["open311_requests_2024-03-08.json"]
    assert "empty" in errors["city311_2024-03-09.csv"]
    assert len(list(settings.rejected_dir("feedback").iterdir())) == 5


def test_truncated_reference_snapshot_is_refused_and_the_table_kept(con, settings) -> None:
    load_all_fixtures(con, settings)
    # A later districts export cut off after its first row: D02 still has requests and respondents.
    deliver(
        settings,
        "reference",
        (
            "districts.csv",
            b"district_code,district_name,aliases,digital_access_rate\nD01,North End,Ward 1,0.82\n",
        ),
    )
    summary = ingest_source(con, settings, "reference")
    assert (summary.files_loaded, summary.files_rejected) == (0, 1)
    error = rows(con, "SELECT error FROM ops.load_log WHERE status = 'rejected'")[0][0]
    assert "lacks" in error and "D02" in error and "looks truncated" in error
    assert rows(con, "SELECT count(*) FROM raw.districts")[0][0] == 3
    assert len(list(settings.rejected_dir("reference").iterdir())) == 1

    # Dropping a district nobody uses (D03 has no requests or respondents) is a correction, not a cut.
    deliver(
        settings,
        "reference",
        (
            "districts.csv",
            b"district_code,district_name,aliases,digital_access_rate\n"
            b"D01,North End,Ward 1,0.82\nD02,Riverside,Ward 2,0.74\n",
        ),
    )
    assert ingest_source(con, settings, "reference").files_loaded == 1
    assert rows(con, "SELECT district_code FROM raw.districts ORDER BY 1") == [("D01",), ("D02",)]

    # A population snapshot missing a district that still exists is refused; the override accepts it.
    population = b"district_code,age_band,sex,population\nD01,18-34,F,1200\n"
    deliver(settings, "reference", ("population.csv", population))
    assert ingest_source(con, settings, "reference").files_rejected == 1
    deliver(settings, "reference", ("population.csv", population + b"D01,18-34,M,1150\n"))
    assert (
        ingest_source(
            con, settings.model_copy(update={"allow_reference_shrink": True}), "reference"
        ).files_loaded
        == 1
    )
    assert rows(con, "SELECT count(*) FROM raw.population")[0][0] == 2


def test_file_without_profile_is_rejected_with_known_patterns(con, settings) -> None:
    deliver(settings, "feedback", ("mystery.csv", b"a,b\n1,2\n"))
    assert ingest_source(con, settings, "feedback").files_rejected == 1
    assert (
        "no feedback profile matches file name 'mystery.csv'"
        in rows(con, "SELECT error FROM ops.load_log")[0][0]
    )


# --- profile check ------------------------------------------------------------------------------


def test_profile_check_reports_coverage_without_loading(tmp_path) -> None:
    report = profile_check(
        FIXTURES / "feedback" / "city311_2024-03-01.csv", "civicloop_city", districts=["D01", "D02", "D03"]
    )
    assert report.rows == 9 and report.unparsed_dates["opened date"] == 1
    # Only codes were given as reference, so ward spellings are unknown too.
    assert report.unknown_districts is not None
    assert report.unknown_districts["Narnia"] == 1 and report.unknown_districts["Ward 1"] == 1
    assert "Address" in report.unmapped_columns and "Reporter Email" not in report.unmapped_columns
    assert report.null_token_counts["Closed"] == 7
    assert "civicloop_city" in report.to_text()
    assert json.dumps(report.unparsed_dates)


# --- survey codebooks: catalogue indicator mapping -----------------------------------------


def _codebook(*questions: dict, demographics: dict | None = None) -> dict:
    return {
        "name": "mapping_test",
        "respondent_id_column": "resp_id",
        "wave_column": "wave",
        "questions": list(questions),
        "demographics": {"district_code": {"columns": ["ward"]}} if demographics is None else demographics,
    }


@pytest.mark.parametrize(
    ("questions", "demographics", "message"),
    [
        (
            [{"id": "q1", "column": "a", "indicator": "c4_trsut"}],
            None,
            "question 'q1': indicator 'c4_trsut' is not in the indicator catalogue",
        ),
        (
            [
                {"id": "q1", "column": "a", "indicator": "c4_trust"},
                {"id": "q2", "column": "b", "indicator": "c4_trust"},
            ],
            None,
            "indicator 'c4_trust' is mapped by questions 'q1' and 'q2' in the same wave (every wave)",
        ),
        (
            [
                {"id": "q1", "column": "a", "indicator": "c4_trust", "waves": [2013, 2015]},
                {"id": "q2", "column": "b", "indicator": "c4_trust", "waves": ["2015"]},
            ],
            None,
            "mapped by questions 'q1' and 'q2' in the same wave (2015)",
        ),
        (
            [
                {"id": "q1", "column": "a", "indicator": "c4_trust"},
                {"id": "q2", "column": "b", "indicator": "c4_trust", "waves": ["2015"]},
            ],
            None,
            "mapped by questions 'q1' and 'q2' in the same wave (2015)",
        ),
        (
            [{"id": "q1", "column": "a", "indicator": "c3_cost_per_transaction"}],
            None,
            "is not computed from survey answers (its catalogue source is 'kpis')",
        ),
        (
            [{"id": "q1", "column": "a", "indicator": "c2_weighting_gap"}],
            None,
            "it is read off the question mapped to c4_trust",
        ),
        (
            [{"id": "q1", "column": "a", "indicator": "c4_satisfaction_gap"}],
            None,
            "groups respondents by age_band: declare it under demographics",
        ),
        (
            [
                {
                    "id": "q1",
                    "column": "a",
                    "indicator": "c4_trust",
                    "multi_select_separator": ";",
                    "options": {"x": "x"},
                }
            ],
            None,
            "a multi-select question has no single top box",
        ),
        ([{"id": "q1", "column": "a", "waves": ["15"]}], None, "wave '15' is not YYYY or YYYYQn"),
    ],
)
def test_codebook_indicator_mapping_is_validated_at_load(questions, demographics, message) -> None:
    from pipelines.ingest.profiles import SurveyCodebook

    with pytest.raises(ValueError, match=re.escape(message)):
        SurveyCodebook.model_validate(_codebook(*questions, demographics=demographics))


def test_codebook_maps_one_indicator_in_disjoint_waves() -> None:
    from pipelines.ingest.profiles import SurveyCodebook

    codebook = SurveyCodebook.model_validate(
        _codebook(
            {"id": "q1", "column": "a", "indicator": "c4_trust", "waves": [2013]},
            {"id": "q2", "column": "b", "indicator": "c4_trust", "waves": ["2015q1"]},
        )
    )
    assert [(q.indicator, q.waves) for q in codebook.questions] == [
        ("c4_trust", ["2013"]),
        ("c4_trust", ["2015Q1"]),
    ]
    assert codebook.questions[1].asked_in("2015q1") and not codebook.questions[1].asked_in("2013")


def test_question_indicators_cover_the_catalogue_survey_indicators() -> None:
    from pipelines.ingest.profiles import (
        DERIVED_SURVEY_INDICATORS,
        QUESTION_INDICATORS,
        catalogue_sources,
    )

    survey = {i for i, source in catalogue_sources().items() if "survey" in source.split("+")}
    assert set(QUESTION_INDICATORS) | set(DERIVED_SURVEY_INDICATORS) == survey
    assert not set(QUESTION_INDICATORS) & set(DERIVED_SURVEY_INDICATORS)


def test_invalid_delivered_codebook_rejects_the_file_with_the_reason(con, settings) -> None:
    load_reference(con, settings)
    broken = (FIXTURES / "survey" / "codebook.yaml").read_text().replace("c4_trust", "c4_trsut")
    deliver(
        settings,
        "survey",
        ("codebook.yaml", broken.encode()),
        FIXTURES / "survey" / "survey_2024Q1.csv",
    )
    summary = ingest_source(con, settings, "survey")
    assert summary.files_rejected == 1
    (error,) = rows(con, "SELECT error FROM ops.load_log WHERE source = 'survey'")[0]
    assert "codebook.yaml in the inbox is invalid" in error
    assert "indicator 'c4_trsut' is not in the indicator catalogue" in error
    assert rows(con, "SELECT count(*) FROM raw.survey_questions")[0][0] == 0


def test_answer_outside_the_declared_waves_is_quarantined(con, settings) -> None:
    load_reference(con, settings)
    codebook = _codebook(
        {"id": "trust_old", "column": "q_old", "indicator": "c4_trust", "waves": [2023]},
        {"id": "trust_new", "column": "q_new", "indicator": "c4_trust", "waves": [2024]},
    )
    codebook["match"] = ["survey_*.csv"]
    csv_text = "resp_id,wave,ward,q_old,q_new\nA,2023,1,4,\nB,2024,1,,5\nC,2024,1,2,3\n"
    deliver(
        settings,
        "survey",
        ("codebook.yaml", json.dumps(codebook).encode()),
        ("survey_waves.csv", csv_text.encode()),
    )
    summary = ingest_source(con, settings, "survey")
    assert (summary.rows_accepted, summary.rows_quarantined) == (2, 1)
    (reason,) = rows(con, "SELECT reason FROM ops.quarantine WHERE source = 'survey'")[0]
    assert reason == (
        "trust_old (column q_old) is answered in wave '2024', but the codebook asks it only in 2023"
    )
    assert rows(
        con, "SELECT wave, question_id, indicator_id FROM raw.survey_questions ORDER BY wave, question_id"
    ) == [("2023", "trust_old", "c4_trust"), ("2024", "trust_new", "c4_trust")]


def test_each_file_of_a_wave_records_its_questions(con, settings) -> None:
    load_reference(con, settings)
    first = (FIXTURES / "survey" / "survey_2024Q1.csv").read_text()
    second = first.replace("R1,", "R11,").replace("R2,", "R12,")
    deliver(
        settings,
        "survey",
        FIXTURES / "survey" / "codebook.yaml",
        ("survey_2024Q1.csv", first.encode()),
        ("survey_2024Q1_late.csv", second.encode()),
    )
    assert ingest_source(con, settings, "survey").files_loaded == 2
    assert rows(
        con,
        "SELECT source_file, count(*), count(indicator_id) FROM raw.survey_questions "
        "WHERE wave = '2024Q1' GROUP BY 1 ORDER BY 1",
    ) == [("survey_2024Q1.csv", 5, 1), ("survey_2024Q1_late.csv", 5, 1)]
