"""Tests for the synthetic city generator: layout, determinism and every planted truth."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.generate import generate_city, generate_feedback_day
from pipelines.generate.feedback import CITY_CSV_COLUMNS

START = datetime.date(2024, 1, 1)
CSV_SCHEMA_OVERRIDES = {"Case ID": pl.String, "Service Code": pl.String, "Ward": pl.String}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    data_dir = tmp_path_factory.mktemp("city")
    truth = generate_city(
        data_dir, n_requests=20_000, quarters=4, survey_respondents_per_wave=300, start=START
    )
    return data_dir, truth


def _city_csvs(feedback_dir: Path, truth: dict) -> pl.DataFrame:
    frames = []
    for path in sorted(feedback_dir.glob("city311_*.csv")):
        encoding = "cp1252" if path.name == truth["feedback"]["cp1252_file"] else "utf-8"
        frame = pl.read_csv(path.read_bytes().decode(encoding).encode(), infer_schema=False)
        frames.append(frame.with_columns(pl.lit(path.name).alias("file")))
    return pl.concat(frames)


def _open311(feedback_dir: Path) -> pl.DataFrame:
    records = []
    for path in sorted(feedback_dir.glob("open311_requests_*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")):
            flat = {k: v for k, v in record.items() if k != "extended_attributes"}
            flat.update(record["extended_attributes"])
            flat["file"] = path.name
            records.append(flat)
    return pl.DataFrame(records, infer_schema_length=None)


@pytest.fixture(scope="module")
def requests(city: tuple[Path, dict]) -> pl.DataFrame:
    """Both formats in one frame with common column names (timestamps as naive local text)."""
    data_dir, truth = city
    feedback_dir = data_dir / "inbox" / "feedback"
    csv = _city_csvs(feedback_dir, truth).select(
        pl.col("Case ID").alias("id"),
        pl.col("Opened").alias("opened"),
        pl.col("Closed").alias("closed"),
        pl.col("Service Code").alias("service"),
        pl.col("Ward").alias("ward"),
        pl.col("Status").str.to_lowercase().alias("status"),
        pl.col("Description").alias("description"),
        "file",
    )
    open311 = _open311(feedback_dir).select(
        pl.col("service_request_id").alias("id"),
        pl.col("requested_datetime").str.slice(0, 19).str.replace("T", " ").alias("opened"),
        pl.col("closed_datetime").str.slice(0, 19).str.replace("T", " ").alias("closed"),
        pl.col("service_code").alias("service"),
        pl.col("district").alias("ward"),
        "status",
        "description",
        "file",
    )
    aliases = (
        pl.read_csv(data_dir / "inbox" / "reference" / "districts.csv")
        .select("district_code", pl.col("aliases").str.split("|"))
        .explode("aliases")
    )
    lookup = pl.concat(
        [
            aliases.select(pl.col("aliases").str.to_lowercase().alias("key"), "district_code"),
            aliases.select(pl.col("district_code").str.to_lowercase().alias("key"), "district_code"),
        ]
    ).unique()
    return (
        pl.concat([csv, open311], how="vertical_relaxed")
        .with_columns(pl.col("ward").str.to_lowercase().alias("key"))
        .join(lookup, on="key", how="left")
        .with_columns(
            pl.col("opened").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).alias("opened_at"),
            pl.col("closed").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).alias("closed_at"),
        )
    )


def test_file_layout_matches_contract(city: tuple[Path, dict]) -> None:
    data_dir, truth = city
    inbox = data_dir / "inbox"
    assert pl.read_csv(inbox / "reference" / "districts.csv").columns == [
        "district_code",
        "district_name",
        "aliases",
        "digital_access_rate",
    ]
    population = pl.read_csv(inbox / "reference" / "population.csv")
    assert population.columns == ["district_code", "age_band", "sex", "population"]
    assert population.height == 12 * 8
    assert pl.read_csv(inbox / "reference" / "services.csv").columns == [
        "service_code",
        "service_name",
        "category",
        "agency",
        "sla_days",
    ]
    geojson = json.loads((inbox / "reference" / "districts.geojson").read_text())
    assert len(geojson["features"]) == 12
    # 12 monthly backfill exports (the last one partial) then 14 daily files, in both formats.
    expected = {f"2024-{month:02d}" for month in range(1, 13)} | {
        (datetime.date(2025, 1, 1) - datetime.timedelta(days)).isoformat() for days in range(1, 15)
    }
    assert {p.stem.removeprefix("city311_") for p in (inbox / "feedback").glob("city311_*.csv")} == expected
    assert {
        p.stem.removeprefix("open311_requests_") for p in (inbox / "feedback").glob("open311_requests_*.json")
    } == expected
    first_csv = sorted(
        p for p in (inbox / "feedback").glob("city311_*.csv") if p.name != truth["feedback"]["cp1252_file"]
    )[0]
    assert first_csv.read_text(encoding="utf-8").splitlines()[0].split(",") == list(CITY_CSV_COLUMNS)
    record = json.loads(sorted((inbox / "feedback").glob("open311_*.json"))[0].read_text())[0]
    assert set(record["extended_attributes"]) == {
        "district",
        "channel",
        "closed_datetime",
        "first_response_datetime",
        "reopened_count",
        "fixed_confirmed",
        "reporter_name",
        "reporter_email",
    }
    kpis = pl.read_csv(inbox / "kpis" / "kpis_2024-01.csv")
    assert kpis.columns == [
        "agency",
        "kpi_id",
        "kpi_name",
        "period",
        "actual",
        "target",
        "desired_change",
        "unit",
    ]
    assert len(list((inbox / "kpis").glob("kpis_*.csv"))) == 12
    assert sorted(p.name for p in (inbox / "survey").glob("survey_*.csv")) == [
        f"survey_2024Q{q}.csv" for q in range(1, 5)
    ]
    reviews = pl.read_csv(inbox / "reviews" / "review_history.csv")
    assert reviews.columns[:3] == ["entry_id", "recorded_at", "recorded_by"]
    assert set(reviews["review_quarter"]) == set(truth["reviews"]["reviewed_quarters"])
    assert truth["reviews"]["skipped_quarters"] == ["2024Q2"]


def test_request_count_and_duplicates_match_truth(requests: pl.DataFrame, city: tuple) -> None:
    _, truth = city
    assert requests.height == truth["feedback"]["requests_written"]
    repeated = requests.filter(pl.col("id").is_not_null()).group_by("id").len().filter(pl.col("len") > 1)
    assert repeated.height == truth["feedback"]["faults"]["duplicate_request_id"]


def test_fault_counts_match_truth(requests: pl.DataFrame, city: tuple) -> None:
    _, truth = city
    faults = truth["feedback"]["faults"]
    assert (
        requests.filter(pl.col("opened_at").is_null() & pl.col("opened").is_not_null()).height
        == faults["malformed_date"]
    )
    assert requests.filter(pl.col("district_code").is_null()).height == faults["unknown_district"]
    assert (
        requests.filter(pl.col("id").is_null() | pl.col("service").is_null()).height
        == faults["missing_required_field"]
    )
    assert requests.filter(pl.col("closed_at") < pl.col("opened_at")).height == faults["closed_before_opened"]


def test_cp1252_file_is_not_utf8(city: tuple) -> None:
    data_dir, truth = city
    raw = (data_dir / "inbox" / "feedback" / truth["feedback"]["cp1252_file"]).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Zoë" in raw.decode("cp1252")


def test_pii_canaries_are_planted(city: tuple) -> None:
    data_dir, truth = city
    feedback_dir = data_dir / "inbox" / "feedback"
    first_day = [feedback_dir / "city311_2024-01.csv", feedback_dir / "open311_requests_2024-01.json"]
    for path in first_day:
        encoding = "cp1252" if path.name == truth["feedback"]["cp1252_file"] else "utf-8"
        content = path.read_bytes().decode(encoding)
        for canary in truth["pii_canaries"]:
            assert canary in content, (canary, path.name)


def test_slow_district_resolves_k_times_slower(requests: pl.DataFrame, city: tuple) -> None:
    _, truth = city
    slow = truth["slow_district"]["district_code"]
    early = requests.filter(
        pl.col("opened_at") < datetime.datetime(2024, 7, 1), pl.col("closed_at") > pl.col("opened_at")
    )
    per_service = (
        early.with_columns(
            ((pl.col("closed_at") - pl.col("opened_at")).dt.total_seconds() / 86400).alias("days"),
            (pl.col("district_code") == slow).alias("is_slow"),
        )
        .group_by("service", "is_slow")
        .agg(pl.col("days").median())
        .pivot(on="is_slow", index="service", values="days")
        .drop_nulls()
    )
    ratio = float(np.median((per_service["true"] / per_service["false"]).to_numpy()))
    assert abs(ratio - truth["slow_district"]["k"]) < 0.5


def _survey(data_dir: Path) -> pl.DataFrame:
    return pl.concat(
        [
            pl.read_csv(p, infer_schema=False)
            for p in sorted((data_dir / "inbox" / "survey").glob("survey_*.csv"))
        ]
    )


def test_under_reporting_district(requests: pl.DataFrame, city: tuple) -> None:
    data_dir, truth = city
    target = truth["under_reporting_district"]["district_code"]
    per_capita = (
        requests.drop_nulls("district_code")
        .group_by("district_code")
        .len()
        .with_columns(
            (
                pl.col("len")
                / pl.col("district_code").replace_strict(
                    {k: v["adults"] for k, v in truth["districts"].items()}
                )
            ).alias("rate")
        )
        .sort("rate")
    )
    assert per_capita["district_code"][0] == target
    survey = _survey(data_dir).filter(pl.col("Q4_problem").is_in(["Yes", "No"]))
    by_district = survey.with_columns(
        pl.col("district").str.replace("^Ward ", "").str.to_lowercase().alias("spelt")
    ).with_columns((pl.col("Q4_problem") == "Yes").alias("yes"))
    target_name = truth["districts"][target]["name"].lower()
    in_target = by_district["spelt"].is_in([target.lower(), target_name, "10"])
    assert by_district.filter(in_target)["yes"].mean() > by_district.filter(~in_target)["yes"].mean() + 0.15


def test_survey_is_skewed_and_weighting_helps(city: tuple) -> None:
    data_dir, truth = city
    survey = _survey(data_dir)
    population = pl.read_csv(data_dir / "inbox" / "reference" / "population.csv")
    census = (
        population.group_by("age_band")
        .agg(pl.col("population").sum())
        .with_columns((pl.col("population") / pl.col("population").sum()).alias("census_share"))
    )
    sample = (
        survey.group_by("age_band")
        .len()
        .with_columns((pl.col("len") / pl.col("len").sum()).alias("sample_share"))
    )
    shares = census.join(sample, on="age_band")
    young = shares.filter(pl.col("age_band") == "18-34")
    old = shares.filter(pl.col("age_band") == "75+")
    assert young["sample_share"][0] < young["census_share"][0] * 0.75
    assert old["sample_share"][0] > old["census_share"][0] * 1.3
    # Post-stratify on age band alone: closer to truth than the raw share for a question
    # strongly driven by age.
    answered = (
        survey.filter(pl.col("Q7_digital").is_in(["Yes", "No"]))
        .join(
            shares.select("age_band", (pl.col("census_share") / pl.col("sample_share")).alias("w")),
            on="age_band",
        )
        .with_columns((pl.col("Q7_digital") == "Yes").cast(pl.Float64).alias("y"))
    )
    true_share = np.mean([w["used_digital_channel"] for w in truth["survey"]["true_agree_shares"].values()])
    unweighted = answered["y"].mean()
    weighted = (answered["y"] * answered["w"]).sum() / answered["w"].sum()
    assert abs(weighted - true_share) < abs(unweighted - true_share)


def test_out_of_range_survey_answers_match_truth(city: tuple) -> None:
    data_dir, truth = city
    survey = _survey(data_dir)
    answers = survey.select(pl.col("^Q.*$")).unpivot()["value"]
    assert answers.is_in(["0", "7", "9"]).sum() == truth["survey"]["faults"]["out_of_range_answer"]


def test_sentiment_trend_and_digital_share_rise(city: tuple) -> None:
    _, truth = city
    negative = list(truth["feedback"]["sentiment_trend"]["negative_share_by_quarter"].values())
    assert negative[-1] < negative[0]
    by_quarter = truth["feedback"]["by_quarter"]
    assert by_quarter[-1]["digital"] / by_quarter[-1]["requests"] > (
        by_quarter[0]["digital"] / by_quarter[0]["requests"]
    )


def _digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    kwargs = {"n_requests": 2_000, "quarters": 2, "survey_respondents_per_wave": 100}
    generate_city(tmp_path / "a", seed=7, **kwargs)
    generate_city(tmp_path / "b", seed=7, **kwargs)
    generate_city(tmp_path / "c", seed=8, **kwargs)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_feedback_day_is_consistent(city: tuple, tmp_path: Path) -> None:
    data_dir, _ = city
    day = datetime.date(2025, 1, 1)
    paths = generate_feedback_day(data_dir, day, n_requests=500, seed=1)
    try:
        assert [p.name for p in paths] == ["open311_requests_2025-01-01.json", "city311_2025-01-01.csv"]
        csv = pl.read_csv(paths[1], infer_schema=False)
        records = json.loads(paths[0].read_text(encoding="utf-8"))
        assert csv.height + len(records) == 500
        assert csv.columns == list(CITY_CSV_COLUMNS)
        assert csv["Case ID"].drop_nulls().str.starts_with("SR20250101-").all()
        with pytest.raises(FileExistsError):
            generate_feedback_day(data_dir, day, n_requests=500, seed=1)
    finally:
        for path in paths:
            path.unlink()
