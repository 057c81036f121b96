"""A small hand-designed warehouse of every raw.* and ops.* table (docs/contracts.md).

Designed so indicator values can be computed by hand (see tests/test_dbt_models.py):

- three districts, adult population D01 4,000, D02 3,000, D03 5,000 (city 12,000);
- 30 service requests over 2026-01 .. 2026-06 (8, 6, 4, 5, 5, 2 per month);
- KPI rows for two agencies, January to June;
- one survey wave (2026Q1) of 40 respondents: 1-20 in D01, 21-32 in D02, 33-40 in D03; age band
  by respondent number mod 4 (1: 18-34, 2: 35-54, 3: 55-74, 0: 75+); raked weight 2 for 75+,
  1 otherwise;
- review decisions including a target revision, its correction, actions, a late review and the
  retirement of c3_data_sharing_agreements from 2026-04-01.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

DISTRICTS = [
    ("D01", "North End", 0.85, 500),  # 8 population cells of 500 -> 4,000 adults
    ("D02", "Harbour", 0.70, 375),  # 3,000 adults
    ("D03", "East Hills", 0.60, 625),  # 5,000 adults
]
AGE_BANDS = ("18-34", "35-54", "55-74", "75+")
SERVICES = [
    ("POT", "Pothole", "Roads", "DPW", 5.0),
    ("LIT", "Streetlight out", "Lighting", "DPW", 3.0),
    ("GRF", "Graffiti", "Cleanliness", "DPW", 7.0),
]

# id, opened, district, service, channel, hours to first response, hours to close,
# reopened_count, fixed_confirmed, lat, lon
REQUESTS = [
    ("R01", "2026-01-05 09:00", "D01", "POT", "web", 4, 24, 0, True, 51.5001, -0.1001),
    ("R02", "2026-01-06 10:00", "D01", "POT", "app", 2, 48, 0, True, 51.5002, -0.1002),
    ("R03", "2026-01-08 08:00", "D01", "LIT", "phone", 1, 12, 1, False, 51.5100, -0.1200),
    ("R04", "2026-01-10 12:00", "D01", "GRF", "web", 6, None, 0, None, 51.5200, -0.1300),
    ("R05", "2026-01-12 09:00", "D02", "POT", "web", 8, 96, 0, True, 51.4500, -0.0500),
    ("R06", "2026-01-15 09:00", "D02", "LIT", "app", None, 72, 0, None, 51.4600, -0.0600),
    ("R07", "2026-01-20 09:00", "D03", "POT", "phone", 3, 120, 0, False, 51.4000, -0.2000),
    ("R08", "2026-01-25 09:00", "D03", "GRF", "web", None, None, 0, None, 51.4100, -0.2100),
    ("R09", "2026-02-02 09:00", "D01", "POT", "web", 5, 30, 0, True, 51.5003, -0.1004),
    ("R10", "2026-02-05 09:00", "D01", "LIT", "app", 2, 10, 0, True, 51.5300, -0.1400),
    ("R11", "2026-02-09 09:00", "D02", "GRF", "web", 12, 200, 0, None, 51.4700, -0.0700),
    ("R12", "2026-02-14 09:00", "D02", "POT", "phone", 4, 60, 1, True, 51.4510, -0.0510),
    ("R13", "2026-02-20 09:00", "D03", "LIT", "web", 1, 20, 0, True, 51.4200, -0.2200),
    ("R14", "2026-02-25 09:00", "D03", "POT", "app", 10, None, 0, None, 51.4300, -0.2300),
    ("R15", "2026-03-03 09:00", "D01", "GRF", "web", 3, 40, 0, True, 51.5400, -0.1500),
    ("R16", "2026-03-10 09:00", "D02", "LIT", "phone", None, 50, 0, False, 51.4800, -0.0800),
    ("R17", "2026-03-17 09:00", "D03", "GRF", "web", 2, 30, 0, True, 51.4400, -0.2400),
    ("R18", "2026-03-24 09:00", "D01", "POT", "app", 6, None, 0, None, 51.5500, -0.1600),
    ("R19", "2026-04-02 09:00", "D01", "POT", "web", 2, 20, 0, True, 51.5600, -0.1700),
    ("R20", "2026-04-08 09:00", "D02", "POT", "app", None, 80, 0, False, 51.4900, -0.0900),
    ("R21", "2026-04-14 09:00", "D03", "LIT", "web", 4, 16, 0, True, 51.3900, -0.1900),
    ("R22", "2026-04-20 09:00", "D01", "GRF", "phone", 3, 36, 2, True, 51.5700, -0.1800),
    ("R23", "2026-04-26 09:00", "D02", "LIT", "web", None, None, 0, None, 51.4950, -0.0950),
    ("R24", "2026-05-03 09:00", "D01", "LIT", "app", 1, 8, 0, True, 51.5800, -0.1850),
    ("R25", "2026-05-09 09:00", "D02", "GRF", "web", 6, 100, 0, True, 51.4960, -0.0960),
    ("R26", "2026-05-15 09:00", "D03", "POT", "phone", 5, 70, 0, False, 51.3800, -0.1950),
    ("R27", "2026-05-21 09:00", "D01", "POT", "web", 2, 25, 0, True, 51.5900, -0.1900),
    ("R28", "2026-05-27 09:00", "D03", "GRF", "app", None, None, 0, None, 51.3700, -0.1960),
    ("R29", "2026-06-05 09:00", "D01", "GRF", "web", 3, 30, 0, True, 51.6000, -0.2000),
    ("R30", "2026-06-12 09:00", "D02", "POT", "app", 4, None, 0, None, 51.5000, -0.1000),
]

TOPICS = {"POT": (1, "road surface"), "LIT": (2, "lighting"), "GRF": (3, "graffiti")}

# agency, kpi_id, unit, desired_change, {month: (actual, target)}
KPIS = [
    (
        "DTO",
        "dto_headcount",
        "FTE",
        "U",
        {1: (8, 10), 2: (9, 10), 3: (10, 10), 4: (10, 12), 5: (11, 12), 6: (12, 12)},
    ),
    (
        "DTO",
        "staff_trained_share",
        "share",
        "U",
        {1: (0.6, 0.6), 2: (0.62, 0.6), 3: (0.64, 0.6), 4: (0.66, 0.6), 5: (0.68, 0.6), 6: (0.7, 0.6)},
    ),
    (
        "DPW",
        "staff_trained_share",
        "share",
        "U",
        {1: (0.4, 0.6), 2: (0.42, 0.6), 3: (0.44, 0.6), 4: (0.46, 0.6), 5: (0.48, 0.6), 6: (0.5, 0.6)},
    ),
    (
        "DPW",
        "cost_per_transaction",
        "EUR",
        "D",
        {1: (4.0, 6.0), 2: (5.0, 6.0), 3: (6.0, 6.0), 4: (7.0, 6.0), 5: (6.5, 6.0), 6: (6.0, 6.0)},
    ),
    (
        "DTO",
        "digital_takeup",
        "share",
        "U",
        {1: (0.5, 0.6), 2: (0.52, 0.6), 3: (0.54, 0.6), 4: (0.56, 0.6), 5: (0.58, 0.6), 6: (0.6, 0.6)},
    ),
    (
        "DTO",
        "completion_rate",
        "share",
        "U",
        {1: (0.8, 0.8), 2: (0.81, 0.8), 3: (0.82, 0.8), 4: (0.83, 0.8), 5: (0.84, 0.8), 6: (0.85, 0.8)},
    ),
    (
        "DTO",
        "data_sharing_agreements",
        "count",
        "U",
        {1: (2, 5), 2: (3, 5), 3: (4, 5), 4: (4, 5), 5: (5, 5), 6: (6, 5)},
    ),
    (
        "DTO",
        "referrals_resolved_share",
        "share",
        "U",
        {1: (0.7, 0.8), 2: (0.75, 0.8), 3: (0.8, 0.8), 4: (0.82, 0.8), 5: (0.84, 0.8), 6: (0.86, 0.8)},
    ),
]

SURVEY_QUESTIONS = {
    # question_id: (consideration, agrees(i))
    "trust_city": (4, lambda i: i % 4 == 0 or i <= 10),
    "q3_listens": (1, lambda i: i % 2 == 0),
    "satisfied_services": (4, lambda i: (i % 4 == 1 and i <= 20) or (i % 4 == 2 and i <= 8) or i % 4 == 3),
    "problem_in_area": (2, lambda i: i % 3 == 0),
    "heard_back": (5, lambda i: i % 2 == 1),
    "took_part_consultation": (4, lambda i: i <= 4),
    "used_digital_channel": (2, lambda i: i % 5 != 0 and i % 4 in (1, 2)),
}
# raw.survey_questions.indicator_id, as a codebook's `indicator` key writes it. The listens
# question deliberately has an id of its own: indicators must follow the mapping, not the id.
SURVEY_INDICATORS = {
    "trust_city": "c4_trust",
    "q3_listens": "c1_city_listens",
    "satisfied_services": "c4_satisfaction_gap",
    "problem_in_area": "c2_underreporting_index",
    "took_part_consultation": "c4_consultation_participation",
    "used_digital_channel": "c2_digital_takeup_gap",
}

# entry_id, recorded_at, review_quarter, indicator_id, decision, new_target, effective_from,
# action_text, action_owner, action_due, action_status, action_completed_on, rationale, corrects
DECISIONS = [
    (
        "E1",
        "2026-04-10 10:00",
        "2026Q1",
        "c5_response_share",
        "revise_target",
        0.85,
        "2026-05-01",
        None,
        None,
        None,
        None,
        None,
        "Staff shortage in the contact centre",
        None,
    ),
    (
        "E2",
        "2026-04-12 09:00",
        "2026Q1",
        "c5_response_share",
        "revise_target",
        0.70,
        "2026-05-01",
        None,
        None,
        None,
        None,
        None,
        "Correction: the board agreed 0.70, not 0.85",
        "E1",
    ),
    (
        "E3",
        "2026-04-10 10:05",
        "2026Q1",
        "c4_trust",
        "keep_target",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "On track",
        None,
    ),
    (
        "E4",
        "2026-04-10 10:10",
        "2026Q1",
        "c5_response_share",
        "add_action",
        None,
        None,
        "Send an automatic acknowledgement",
        "311 team",
        "2026-05-31",
        "done",
        "2026-05-20",
        "Residents do not hear back",
        None,
    ),
    (
        "E5",
        "2026-04-10 10:15",
        "2026Q1",
        "c1_repeat_report_share",
        "add_action",
        None,
        None,
        "Merge duplicate pothole reports",
        "DPW",
        "2026-06-15",
        "open",
        None,
        "Repeat reports on the same spot",
        None,
    ),
    (
        "E6",
        "2026-08-30 15:00",
        "2026Q2",
        "c3_cost_per_transaction",
        "revise_target",
        5.5,
        "2026-07-01",
        None,
        None,
        None,
        None,
        None,
        "",
        None,
    ),
    (
        "E7",
        "2026-04-10 10:20",
        "2026Q1",
        "c3_data_sharing_agreements",
        "retire_indicator",
        None,
        "2026-04-01",
        None,
        None,
        None,
        None,
        None,
        "Agreements are now tracked by the data office",
        None,
    ),
]


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def _requests_rows() -> list[tuple]:
    rows = []
    for rid, opened, district, service, channel, resp_h, close_h, reopened, fixed, lat, lon in REQUESTS:
        opened_at = _ts(opened)
        closed_at = opened_at + timedelta(hours=close_h) if close_h is not None else None
        first_response_at = opened_at + timedelta(hours=resp_h) if resp_h is not None else None
        _, name, category, agency, _ = next(s for s in SERVICES if s[0] == service)
        updated_at = closed_at or first_response_at or opened_at
        rows.append(
            (
                rid,
                "open311",
                f"open311_requests_{opened[:10]}.json",
                service,
                name,
                category,
                agency,
                district,
                channel,
                "closed" if closed_at else "open",
                opened_at,
                closed_at,
                first_response_at,
                reopened,
                fixed,
                f"{name} reported near [ADDRESS]",
                f"p-{rid}",
                lat,
                lon,
                updated_at,
                f"hash-{rid}",
                opened_at + timedelta(days=1),
            )
        )
    return rows


def build_raw_fixture(db_path: Path) -> None:
    """Create every raw.* and ops.* table of docs/contracts.md in a fresh DuckDB file."""
    db_path = Path(db_path)
    if db_path.exists():
        db_path.unlink()
    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema raw")
        con.execute("create schema ops")

        con.execute(
            "create table raw.districts (district_code varchar, district_name varchar, "
            "digital_access_rate double)"
        )
        con.executemany("insert into raw.districts values (?, ?, ?)", [(c, n, r) for c, n, r, _ in DISTRICTS])
        con.execute("create table raw.district_aliases (alias_normalised varchar, district_code varchar)")
        con.executemany(
            "insert into raw.district_aliases values (?, ?)",
            [(n.lower(), c) for c, n, _, _ in DISTRICTS] + [("ward 1", "D01")],
        )
        con.execute(
            "create table raw.population (district_code varchar, age_band varchar, sex varchar, "
            "population integer)"
        )
        con.executemany(
            "insert into raw.population values (?, ?, ?, ?)",
            [(c, a, s, p) for c, _, _, p in DISTRICTS for a in AGE_BANDS for s in ("F", "M")],
        )
        con.execute(
            "create table raw.services (service_code varchar, service_name varchar, "
            "category varchar, agency varchar, sla_days double)"
        )
        con.executemany("insert into raw.services values (?, ?, ?, ?, ?)", SERVICES)
        con.execute("create table raw.district_boundaries (district_code varchar, geometry_json varchar)")
        con.executemany(
            "insert into raw.district_boundaries values (?, ?)",
            [
                (c, f'{{"type": "Polygon", "coordinates": [[[0, {k}], [1, {k}], [1, {k + 1}], [0, {k}]]]}}')
                for k, (c, _, _, _) in enumerate(DISTRICTS)
            ],
        )

        con.execute("""create table raw.feedback_requests (
            request_id varchar, source_format varchar, source_file varchar, service_code varchar,
            service_name varchar, category varchar, agency varchar, district_code varchar,
            channel varchar, status varchar, opened_at timestamp, closed_at timestamp,
            first_response_at timestamp, reopened_count integer, fixed_confirmed boolean,
            description varchar, reporter_pseudonym varchar, lat double, lon double,
            updated_at timestamp, record_hash varchar, loaded_at timestamp)""")
        requests = _requests_rows()
        con.executemany("insert into raw.feedback_requests values (" + ", ".join(["?"] * 22) + ")", requests)
        con.execute(
            "create table raw.feedback_status_history (request_id varchar, status varchar, "
            "updated_at timestamp, source_file varchar, loaded_at timestamp)"
        )
        history = []
        for r in requests:
            history.append((r[0], "open", r[10], r[2], r[21]))
            if r[11] is not None:
                history.append((r[0], "closed", r[11], r[2], r[21]))
        con.executemany("insert into raw.feedback_status_history values (?, ?, ?, ?, ?)", history)
        con.execute(
            "create table raw.feedback_request_moves (request_id varchar, previous_opened_at timestamp, "
            "opened_at timestamp, loaded_at timestamp)"
        )
        con.execute(
            "create table raw.feedback_text_scores (request_id varchar, sentiment double, "
            "topic_id integer, topic_label varchar, scored_at timestamp default current_timestamp)"
        )
        con.executemany(
            "insert into raw.feedback_text_scores (request_id, sentiment, topic_id, topic_label) "
            "values (?, ?, ?, ?)",
            [
                (rid, -0.5 if close_h is None else 0.25, *TOPICS[service])
                for rid, _, _, service, _, _, close_h, *_ in REQUESTS
            ],
        )

        con.execute("""create table raw.kpi_observations (agency varchar, kpi_id varchar,
            kpi_name varchar, period_month date, actual double, target double,
            desired_change varchar, unit varchar, source_file varchar)""")
        con.executemany(
            "insert into raw.kpi_observations values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    agency,
                    kpi,
                    kpi.replace("_", " "),
                    date(2026, m, 1),
                    a,
                    t,
                    dc,
                    unit,
                    f"kpis_2026-{m:02d}.csv",
                )
                for agency, kpi, unit, dc, values in KPIS
                for m, (a, t) in values.items()
            ],
        )

        con.execute("""create table raw.survey_respondents (respondent_id varchar, wave varchar,
            period_start date, district_code varchar, age_band varchar, sex varchar,
            digital_access boolean, source_file varchar)""")
        con.execute("""create table raw.survey_answers (respondent_id varchar, wave varchar,
            question_id varchar, consideration integer, value double, scale_min double,
            scale_max double, agree boolean)""")
        con.execute("""create table raw.survey_weights (respondent_id varchar, wave varchar,
            base_weight double, raked_weight double, trimmed boolean)""")
        con.execute("""create table raw.survey_questions (wave varchar, period_start date,
            question_id varchar, question_text varchar, consideration integer, scale_min double,
            scale_max double, top_box double, indicator_id varchar, codebook varchar,
            source_file varchar)""")
        con.executemany(
            "insert into raw.survey_questions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "2026Q1",
                    date(2026, 1, 1),
                    qid,
                    None,
                    consideration,
                    1.0,
                    5.0,
                    4.0,
                    SURVEY_INDICATORS.get(qid),
                    "fixture",
                    "survey_2026Q1.csv",
                )
                for qid, (consideration, _agrees) in SURVEY_QUESTIONS.items()
            ],
        )
        respondents, answers, weights = [], [], []
        for i in range(1, 41):
            rid = f"S{i:02d}"
            district = "D01" if i <= 20 else "D02" if i <= 32 else "D03"
            age_band = {1: "18-34", 2: "35-54", 3: "55-74", 0: "75+"}[i % 4]
            respondents.append(
                (
                    rid,
                    "2026Q1",
                    date(2026, 1, 1),
                    district,
                    age_band,
                    "F" if i % 2 else "M",
                    i % 5 != 0,
                    "survey_2026Q1.csv",
                )
            )
            weights.append((rid, "2026Q1", 1.0, 2.0 if i % 4 == 0 else 1.0, False))
            for qid, (consideration, agrees) in SURVEY_QUESTIONS.items():
                agree = bool(agrees(i))
                answers.append((rid, "2026Q1", qid, consideration, 5.0 if agree else 2.0, 1.0, 5.0, agree))
        con.executemany("insert into raw.survey_respondents values (?, ?, ?, ?, ?, ?, ?, ?)", respondents)
        con.executemany("insert into raw.survey_answers values (?, ?, ?, ?, ?, ?, ?, ?)", answers)
        con.executemany("insert into raw.survey_weights values (?, ?, ?, ?, ?)", weights)

        con.execute("""create table raw.review_decisions (entry_id varchar, recorded_at varchar,
            recorded_by varchar, review_quarter varchar, indicator_id varchar, decision varchar,
            new_target double, effective_from varchar, action_text varchar, action_owner varchar,
            action_due varchar, action_status varchar, action_completed_on varchar,
            rationale varchar, corrects_entry_id varchar)""")
        con.executemany(
            "insert into raw.review_decisions values (" + ", ".join(["?"] * 15) + ")",
            [
                (e, f"{rec}:00", "review board", q, ind, dec, nt, eff, at, ao, ad, st, done, why, corr)
                for e, rec, q, ind, dec, nt, eff, at, ao, ad, st, done, why, corr in DECISIONS
            ],
        )

        con.execute("""create table ops.load_log (file varchar, source varchar, sha256 varchar,
            status varchar, error varchar, rows_read bigint, rows_accepted bigint,
            rows_quarantined bigint, loaded_at timestamp)""")
        con.executemany(
            "insert into ops.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("districts.csv", "reference", "a1", "loaded", None, 3, 3, 0, _ts("2026-01-01 06:00")),
                (
                    "open311_requests_2026-06-12.json",
                    "feedback",
                    "b1",
                    "loaded",
                    None,
                    1,
                    1,
                    0,
                    _ts("2026-06-13 06:00"),
                ),
                (
                    "open311_requests_2026-06-12.json",
                    "feedback",
                    "b1",
                    "duplicate",
                    None,
                    1,
                    0,
                    0,
                    _ts("2026-06-14 06:00"),
                ),
                ("kpis_2026-06.csv", "kpis", "c1", "loaded", None, 8, 8, 0, _ts("2026-07-03 06:00")),
                ("survey_2026Q1.csv", "survey", "d1", "loaded", None, 40, 40, 0, _ts("2026-04-05 06:00")),
                ("review_history.csv", "reviews", "e1", "loaded", None, 7, 7, 0, _ts("2026-08-31 06:00")),
                (
                    "broken.csv",
                    "kpis",
                    "f1",
                    "rejected",
                    "missing column kpi_id",
                    0,
                    0,
                    0,
                    _ts("2026-07-04 06:00"),
                ),
            ],
        )
        con.execute("""create table ops.quarantine (file varchar, source varchar, line bigint,
            reason varchar, raw_record varchar, quarantined_at timestamp)""")
        con.execute(
            "insert into ops.quarantine values ('kpis_2026-06.csv', 'kpis', 9, "
            "'actual is not a number', '{\"actual\": \"n/a\"}', timestamp '2026-07-03 06:00')"
        )
    finally:
        con.close()
