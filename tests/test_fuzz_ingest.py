"""Issue 8: ingestion survives ~300 malformed files delivered together with a real tiny city.

The corpus comes from ``tests/fuzz_corpus.py`` (seeded). The same tiny city is ingested twice,
once clean and once with the corpus mixed into its inbox, so that "the good files' rows are all
there" is checked row by row against what the good files alone produce.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import generate_city
from pipelines.ingest import ingest_source
from pipelines.ingest.schema import RAW_TABLES
from pipelines.settings import SOURCES, Settings
from pipelines.warehouse import connect

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_corpus import build_corpus, codebook_cases

TINY_CITY = {"n_requests": 2000, "quarters": 2, "survey_respondents_per_wave": 100}
# Ingest order of a build: districts must exist before rows that name a district are checked.
INGEST_ORDER = ("reference", "feedback", "kpis", "survey", "reviews")
# Key column of the tables fuzz rows can reach, and the prefix every fuzz key carries.
FUZZ_KEYS = {
    "feedback_requests": "request_id",
    "feedback_status_history": "request_id",
    "kpi_observations": "kpi_id",
    "survey_respondents": "respondent_id",
    "survey_answers": "respondent_id",
    "review_decisions": "entry_id",
}
REFERENCE_TABLES = ("districts", "district_aliases", "population", "services", "district_boundaries")
CONFIG_FILES = {"codebook.yaml"}


def _ingest_everything(data_dir: Path) -> tuple[Settings, dict[str, str]]:
    """Run ``ingest_source`` for every source; return the settings and any escaped exception."""
    settings = Settings(data_dir=data_dir)
    escaped: dict[str, str] = {}
    with connect(settings) as con:
        for source in INGEST_ORDER:
            try:
                ingest_source(con, settings, source)
            except BaseException as error:
                escaped[source] = f"{type(error).__name__}: {error}"[:500]
    return settings, escaped


def _table_rows(settings: Settings) -> dict[str, Counter]:
    """Every raw table as a multiset of rows, without the load-time column."""
    rows: dict[str, Counter] = {}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for table, spec in RAW_TABLES.items():
            columns = [part.strip().split(" ")[0] for part in spec.split(",")]
            kept = ", ".join(column for column in columns if column != "loaded_at")
            rows[table] = Counter(con.sql(f"select {kept} from raw.{table}").fetchall())
    return rows


@pytest.fixture(scope="module")
def city_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's inbox for a tiny city (the good files)."""
    data_dir = tmp_path_factory.mktemp("tiny_city")
    generate_city(data_dir, seed=8, **TINY_CITY)
    return data_dir / "inbox"


@pytest.fixture(scope="module")
def clean(city_inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counter]:
    """Raw tables after ingesting the good files alone."""
    data_dir = tmp_path_factory.mktemp("clean")
    shutil.copytree(city_inbox, data_dir / "inbox")
    settings, escaped = _ingest_everything(data_dir)
    assert not escaped
    return _table_rows(settings)


@pytest.fixture(scope="module")
def fuzzed(city_inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Good files plus the whole corpus in one inbox, every source ingested once."""
    data_dir = tmp_path_factory.mktemp("fuzzed")
    shutil.copytree(city_inbox, data_dir / "inbox")
    good = {
        (path.parent.name, path.name): path.read_bytes()
        for path in (data_dir / "inbox").rglob("*")
        if path.is_file() and path.name not in CONFIG_FILES
    }
    corpus = build_corpus()
    for case in corpus:
        target = data_dir / "inbox" / case.source / case.name
        assert not target.exists(), f"corpus name {case.name} collides with a city file"
        target.write_bytes(case.payload)
    settings, escaped = _ingest_everything(data_dir)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        log = con.sql(
            "select source, file, sha256, status, error, rows_read, rows_accepted, rows_quarantined "
            "from ops.load_log"
        ).fetchall()
        per_file = "select source || '/' || file, count(*) from ops.quarantine group by all"
        quarantined = Counter(dict(con.sql(per_file).fetchall()))
    return {
        "settings": settings,
        "escaped": escaped,
        "corpus": corpus,
        "good": good,
        "log": log,
        "quarantined": quarantined,
        "tables": _table_rows(settings),
    }


def test_corpus_is_deterministic_large_and_covers_every_source() -> None:
    corpus = build_corpus()
    assert len(corpus) >= 200
    assert [(c.name, c.payload) for c in corpus] == [(c.name, c.payload) for c in build_corpus()]
    assert [c.payload for c in corpus] != [c.payload for c in build_corpus(seed=9)]  # junk is seeded
    assert len({(c.source, c.name) for c in corpus}) == len(corpus)
    assert {c.source for c in corpus} == set(SOURCES)
    mutations = {c.mutation for c in corpus}
    for required in (
        "empty", "header_only", "truncated_55pct", "semicolon_delimiter", "binary_junk", "invalid_utf8",
        "huge_field_5mb", "one_mb_line", "duplicate_keys", "xml_document", "xml_not_well_formed",
        "xml_file_extension", "wrong_types", "dates_year_0001", "dates_year_9999", "dates_epoch_0",
        "nul_bytes", "utf8_bom", "mixed_line_endings", "nesting_100k_document",
    ):  # fmt: skip
        assert required in mutations, required


def test_no_exception_escapes_ingest(fuzzed: dict) -> None:
    assert fuzzed["escaped"] == {}


def test_every_file_has_exactly_one_load_log_row(fuzzed: dict) -> None:
    per_file = Counter((source, file) for source, file, *_ in fuzzed["log"])
    expected = {(c.source, c.name) for c in fuzzed["corpus"]} | set(fuzzed["good"])
    assert set(per_file) == expected
    assert {key: n for key, n in per_file.items() if n != 1} == {}
    assert {status for *_, status, _, _, _, _ in [row[:8] for row in fuzzed["log"]]} <= {
        "loaded",
        "rejected",
        "duplicate",
    }


def test_rejections_have_clear_errors_and_no_parser_bug_remains(fuzzed: dict) -> None:
    rejected = [row for row in fuzzed["log"] if row[3] == "rejected"]
    assert len(rejected) >= 100  # most of the corpus cannot be read at all
    for source, file, _, _, error, *_ in rejected:
        assert error and len(error) > 15, (source, file)
        # "internal error" is the loader's safety net: a parser crashed instead of explaining.
        assert not error.startswith("internal error"), (source, file, error)
        assert "Traceback" not in error


def test_rejected_files_are_kept_byte_for_byte(fuzzed: dict) -> None:
    settings: Settings = fuzzed["settings"]
    payloads = {(c.source, c.name): c.payload for c in fuzzed["corpus"]} | fuzzed["good"]
    for source, file, sha, status, *_ in fuzzed["log"]:
        if status == "rejected":
            kept = settings.rejected_dir(source) / f"{sha[:12]}__{file}"
        else:
            kept = next(settings.raw_archive_dir(source).glob(f"*/{sha[:12]}__{file}"))
        assert kept.read_bytes() == payloads[(source, file)], kept
    leftovers = [p for p in settings.resolved_data_dir.joinpath("inbox").rglob("*") if p.is_file()]
    assert [p.name for p in leftovers] == ["codebook.yaml"]  # configuration stays in the inbox


def test_row_conservation_holds_for_every_loaded_file(fuzzed: dict) -> None:
    loaded = [row for row in fuzzed["log"] if row[3] == "loaded"]
    assert len(loaded) >= 100
    for source, file, _, _, _, read, accepted, quarantined in loaded:
        assert read == accepted + quarantined, (source, file)
        assert fuzzed["quarantined"].get(f"{source}/{file}", 0) == quarantined, (source, file)


def test_good_files_all_load_and_their_rows_are_all_there(fuzzed: dict, clean: dict[str, Counter]) -> None:
    status = {(source, file): row_status for source, file, _, row_status, *_ in fuzzed["log"]}
    assert {key: status[key] for key in fuzzed["good"] if status[key] != "loaded"} == {}
    corpus_files = {c.name for c in fuzzed["corpus"]}
    for table, clean_rows in clean.items():
        fuzz_rows = fuzzed["tables"][table]
        if table in REFERENCE_TABLES:
            # The city's snapshot files sort after the fuzz ones, so they are what is left.
            assert fuzz_rows == clean_rows, table
            continue
        missing = clean_rows - fuzz_rows
        assert not missing, f"{table}: {sum(missing.values())} good rows lost, e.g. {next(iter(missing))}"
        extra = fuzz_rows - clean_rows
        key_index = _column_index(table, FUZZ_KEYS.get(table, ""))
        source_index = _column_index(table, "source_file")
        for row in extra:
            from_corpus = source_index is not None and row[source_index] in corpus_files
            # "in", not startswith: byte-level junk may be decoded in front of a fuzz key.
            fuzz_key = key_index is not None and "FZ" in str(row[key_index])
            assert from_corpus or fuzz_key, f"{table}: row not from the city nor the corpus: {row}"


def _column_index(table: str, column: str) -> int | None:
    columns = [part.strip().split(" ")[0] for part in RAW_TABLES[table].split(",") if "loaded_at" not in part]
    return columns.index(column) if column in columns else None


@pytest.mark.parametrize("case", sorted(codebook_cases()))
def test_a_broken_delivered_codebook_rejects_survey_files_clearly(
    case: str, city_inbox: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    inbox = settings.inbox_dir("survey")
    inbox.mkdir(parents=True)
    shutil.copy(city_inbox / "survey" / "survey_2024Q1.csv", inbox)
    (inbox / "codebook.yaml").write_bytes(codebook_cases()[case])
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        summary = ingest_source(con, settings, "survey")
        error = con.sql("select error from ops.load_log").fetchall()
    assert summary.files_rejected == 1 and summary.files_loaded == 0
    assert "codebook" in error[0][0], error
    assert not error[0][0].startswith("internal error"), error
    assert (settings.rejected_dir("survey")).glob("*__survey_2024Q1.csv")
    assert (inbox / "codebook.yaml").exists()  # configuration is never moved


@pytest.mark.slow
def test_a_real_build_still_publishes_with_the_corpus_in_the_inbox(city_inbox: Path, tmp_path: Path) -> None:
    from pipelines.build import run_build

    shutil.copytree(city_inbox, tmp_path / "inbox")
    for case in build_corpus():
        (tmp_path / "inbox" / case.source / case.name).write_bytes(case.payload)
    settings = Settings(data_dir=tmp_path)
    outcome = run_build(settings)
    assert outcome.published, (outcome.failed_steps, outcome.failed_checks)
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        files = con.sql("select count(distinct source || file) from ops.load_log").fetchone()[0]
        build_id = con.sql("select build_id from ops.build_info").fetchone()[0]
        values = con.sql("select count(*) from marts.indicator_values").fetchone()[0]
    assert files == len(build_corpus()) + sum(1 for p in city_inbox.rglob("*") if p.is_file()) - 1
    assert build_id == outcome.run_id[:12]
    assert values > 0


def test_rows_with_empty_checked_values_are_quarantined_not_accepted(
    city_inbox: Path, tmp_path: Path
) -> None:
    """Found by the corpus: a reason built with pl.format was null when the quoted value was empty,
    so a KPI row without period or direction and a respondent without wave were accepted."""
    settings = Settings(data_dir=tmp_path)
    shutil.copytree(city_inbox / "reference", settings.inbox_dir("reference"))
    kpis = settings.inbox_dir("kpis")
    kpis.mkdir(parents=True)
    (kpis / "kpis_fz.csv").write_text(
        "agency,kpi_id,kpi_name,period,actual,target,desired_change,unit\n"
        "PW,FZ_a,A,,0.5,0.6,U,share\nPW,FZ_b,B,2024-01,0.5,0.6,,share\nPW,FZ_c,C,0001-01,1,1,U,share\n"
    )
    survey = settings.inbox_dir("survey")
    shutil.copytree(city_inbox / "survey", survey)
    header = (survey / "survey_2024Q1.csv").read_text().splitlines()[0]
    blank = ",".join(["FZ-R1", "", *[""] * (header.count(",") - 1)])
    (survey / "survey_fz.csv").write_text(f"{header}\n{blank}\n" + ("x" * 1000) + "\n")
    with connect(settings) as con:
        for source in ("reference", "kpis", "survey"):
            ingest_source(con, settings, source)
        accepted = con.sql("select count(*) from raw.kpi_observations where kpi_id like 'FZ%'").fetchone()[0]
        respondents = con.sql("select count(*) from raw.survey_respondents where wave is null").fetchone()[0]
        reasons = [
            r[0] for r in con.sql("select reason from ops.quarantine where file like '%fz%'").fetchall()
        ]
    assert accepted == 0 and respondents == 0
    assert len(reasons) == 5 and all(reasons), reasons
