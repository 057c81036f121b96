"""A small, deterministic published snapshot with every table and column of docs/contracts.md.

3 districts, 6 considerations x 3 indicators, 8 quarters, every status (green, amber, red,
suppressed). Values follow the scoring method 1.0 of the contract so that tests can check the
dashboard against numbers computed here. Planted on purpose:

* ``C1_02`` is red in the last two quarters (review trigger "red two quarters running");
* ``C3_01`` jumps by more than 10 points in the last quarter (trigger "large move");
* district ``D03`` is suppressed (n < min_n) for ``C2_03`` in every quarter;
* source ``survey`` is stale; one quarantined record and one rejected file in ``ops``;
* a resident comment with ``<script>`` markup and one beginning with ``=HYPERLINK(``;
* one overdue review action;
* catalogue default targets are dated 2026-01-01 (when the catalogue was written, after the
  data, as in a real build) yet apply from the start; ``C1_03`` has a review revision
  effective 2025Q3 (``version_number`` 2);
* ``marts.equity_theil`` holds quarter and month rows (pages must filter ``grain``);
* ``marts.source_freshness`` (not ``ops``) holds freshness, as in docs/contracts.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import duckdb

QUARTERS = [dt.date(2024 + i // 4, 1 + 3 * (i % 4), 1) for i in range(8)]  # 2024Q1 .. 2025Q4
LATEST_QUARTER = QUARTERS[-1]
DISTRICTS = [
    ("D01", "North End", 41_200, 0.91),
    ("D02", "Riverside", 36_800, 0.78),
    ("D03", "Old Mill", 18_900, 0.62),
]
CONSIDERATION_NAMES = {
    1: "Responsiveness",
    2: "Resolution quality",
    3: "Access and inclusion",
    4: "Digital take-up",
    5: "Trust and satisfaction",
    6: "Closing the loop",
}
# indicator_id, consideration, name, unit, direction, weight, min_n, default target, base value
INDICATORS = [
    ("C1_01", 1, "Median days to first response", "days", "lower_is_better", 1.0, 30, 2.0, 1.9),
    ("C1_02", 1, "Requests closed within SLA", "%", "higher_is_better", 2.0, 30, 85.0, 80.0),
    ("C1_03", 1, "Median days to close", "days", "lower_is_better", 1.0, 30, 10.0, 9.0),
    ("C2_01", 2, "Reopen rate", "%", "lower_is_better", 1.0, 30, 5.0, 4.6),
    ("C2_02", 2, "Fix confirmed by resident", "%", "higher_is_better", 1.0, 30, 70.0, 71.0),
    ("C2_03", 2, "Repeat requests at same address", "%", "lower_is_better", 1.0, 40, 8.0, 8.3),
    (
        "C3_01",
        3,
        "Requests per 1,000 residents (lowest district)",
        "per 1k",
        "higher_is_better",
        1.0,
        30,
        40.0,
        33.0,
    ),
    ("C3_02", 3, "Share of requests by phone or walk-in", "%", "higher_is_better", 1.0, 30, 25.0, 26.0),
    ("C3_03", 3, "Survey: easy to contact the city", "%", "higher_is_better", 1.0, 30, 60.0, 57.0),
    ("C4_01", 4, "Requests made online", "%", "higher_is_better", 1.0, 30, 55.0, 58.0),
    ("C4_02", 4, "Survey: used a digital service", "%", "higher_is_better", 1.0, 30, 50.0, 47.0),
    ("C4_03", 4, "Online form completion rate", "%", "higher_is_better", 1.0, 30, 80.0, 82.0),
    ("C5_01", 5, "Survey: satisfied with service", "%", "higher_is_better", 2.0, 30, 65.0, 60.0),
    ("C5_02", 5, "Survey: trust the city to act", "%", "higher_is_better", 1.0, 30, 55.0, 52.0),
    ("C5_03", 5, "Mean comment sentiment (x100)", "pts", "higher_is_better", 1.0, 30, 10.0, 9.5),
    ("C6_01", 6, "Residents told the outcome", "%", "higher_is_better", 1.0, 30, 90.0, 93.0),
    ("C6_02", 6, "Closed requests confirmed fixed", "%", "higher_is_better", 1.0, 30, 60.0, 61.0),
    ("C6_03", 6, "Review actions done on time", "%", "higher_is_better", 1.0, 5, 80.0, 70.0),
]
DISTRICT_FACTOR = {"D01": 1.04, "D02": 0.98, "D03": 0.90}
TOPICS = ["potholes", "street lighting", "waste collection", "noise", "online forms"]
SURVEY_GROUPS = (
    [("city", "all")]
    + [("district", d[0]) for d in DISTRICTS]
    + [("age_band", a) for a in ("18-34", "35-54", "55-74", "75+")]
    + [("sex", s) for s in ("F", "M")]
    + [("digital_access", v) for v in ("true", "false")]
)
SUPPRESSED_DISTRICT_INDICATOR = ("C2_03", "D03")
CATALOGUE_DATE = dt.date(2026, 1, 1)  # catalogue written after the data; default applies anyway
RED_TWICE_INDICATOR = "C1_02"
BIG_MOVE_INDICATOR = "C3_01"
STALE_SOURCE = "survey"
# Its newest values are flagged in marts.indicator_values.is_stale (shown, but not as current).
STALE_INDICATOR = "C1_03"
SCRIPT_COMMENT = "Lamp out again <script>alert('x')</script> please fix"
FORMULA_COMMENT = '=HYPERLINK("http://evil.example","click") broken bench'


def quarter_label(d: dt.date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def score_of(value: float | None, target: float, direction: str) -> float | None:
    """Scoring method 1.0 of docs/contracts.md."""
    if value is None:
        return None
    if direction == "higher_is_better":
        raw = value / target
    else:
        raw = target / value if value > 0 else 1.2
    return max(0.0, min(1.2, raw))


def status_of(score: float | None) -> str:
    if score is None:
        return "suppressed"
    if score >= 1.0:
        return "green"
    if score >= 0.9:
        return "amber"
    return "red"


def _value(rng: random.Random, ind: tuple, qi: int, scope: str) -> float:
    iid, _c, _n, _u, direction, _w, _m, _t, base = ind
    drift = 1.0 + 0.012 * (qi - 4) * (1 if direction == "higher_is_better" else -1)
    noise = 1.0 + rng.uniform(-0.025, 0.025)
    value = base * drift * noise
    if iid == RED_TWICE_INDICATOR and qi >= 6:
        value = 0.83 * 85.0  # red: score 0.83
    if iid == BIG_MOVE_INDICATOR and qi == 7:
        value = 41.0  # from ~0.8 to 1.025: a >10 point move
    if scope != "city":
        factor = DISTRICT_FACTOR[scope]
        value = value * factor if direction == "higher_is_better" else value / factor
    return round(value, 2)


def _square(x0: float, y0: float, size: float = 0.05) -> str:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def build_published_fixture(db_path: Path) -> None:
    """Write the fixture snapshot to ``db_path`` (parents created, an existing file replaced)."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if db_path.exists():
        db_path.unlink()
    rng = random.Random(20251)
    con = duckdb.connect(str(db_path))
    try:
        _build(con, rng)
    finally:
        con.close()


def _build(con: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    con.execute("create schema marts; create schema ops;")
    con.execute(
        """create table marts.districts (district_code varchar, district_name varchar,
        population integer, digital_access_rate double, geometry_json varchar)"""
    )
    for i, (code, name, pop, access) in enumerate(DISTRICTS):
        con.execute(
            "insert into marts.districts values (?, ?, ?, ?, ?)",
            [code, name, pop, access, _square(-1.60 + 0.05 * i, 53.80)],
        )

    con.execute(
        """create table marts.indicator_catalog (indicator_id varchar, consideration integer,
        consideration_name varchar, name varchar, definition varchar, unit varchar,
        direction varchar, weight double, target_rule varchar, formula varchar, source varchar,
        min_n integer, default_target double)"""
    )
    for ind in INDICATORS:
        iid, cons, name, unit, direction, weight, min_n, target, _b = ind
        con.execute(
            "insert into marts.indicator_catalog values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                iid,
                cons,
                CONSIDERATION_NAMES[cons],
                name,
                f"{name} per quarter, measured in {unit}.",
                unit,
                direction,
                weight,
                "fixed" if cons != 3 else "benchmark: city median of peers",
                f"{iid.lower()}_numerator / {iid.lower()}_denominator",
                "kpis" if cons in (1, 2) else ("survey" if "Survey" in name else "feedback"),
                min_n,
                target,
            ],
        )

    # target history: the default, and one review revision for C1_03 effective 2025Q3
    con.execute(
        """create table marts.indicator_targets_history (indicator_id varchar, target double,
        effective_from date, target_rule varchar, set_by varchar, set_at timestamp,
        reason varchar, version_number bigint)"""
    )
    revised = {"C1_03": (dt.date(2025, 7, 1), 8.0)}
    for ind in INDICATORS:
        iid, cons, *_rest = ind
        con.execute(
            "insert into marts.indicator_targets_history values (?,?,?,?,?,?,?,?)",
            [
                iid,
                ind[7],
                CATALOGUE_DATE,
                "fixed" if cons != 3 else "benchmark: city median of peers",
                "catalogue",
                dt.datetime(2026, 1, 1),
                "catalogue default",
                1,
            ],
        )
        if iid in revised:
            eff, tgt = revised[iid]
            con.execute(
                "insert into marts.indicator_targets_history values (?,?,?,?,?,?,?,?)",
                [
                    iid,
                    tgt,
                    eff,
                    "review",
                    "a.okafor",
                    dt.datetime(2025, 6, 20, 14, 30),
                    "Sustained over-performance; tighten the target (review 2025Q2).",
                    2,
                ],
            )

    def target_for(ind: tuple, period: dt.date) -> float:
        iid = ind[0]
        if iid in revised and period >= revised[iid][0]:
            return revised[iid][1]
        return ind[7]

    con.execute(
        """create table marts.indicator_values (indicator_id varchar, period_start date,
        grain varchar, scope varchar, value double, target double, score double,
        status varchar, n integer, method_version varchar, is_stale boolean)"""
    )
    rows = []
    city_scores: dict[tuple[str, dt.date], float | None] = {}
    for ind in INDICATORS:
        for qi, q in enumerate(QUARTERS):
            for scope in ["city"] + [d[0] for d in DISTRICTS]:
                n = 400 + rng.randint(0, 200) if scope == "city" else 80 + rng.randint(0, 60)
                if (ind[0], scope) == SUPPRESSED_DISTRICT_INDICATOR:
                    n = 12 + qi  # below min_n 40
                if ind[0] == "C6_03":
                    n = 9 if scope == "city" else 3  # few actions: districts suppressed
                value = _value(rng, ind, qi, scope) if n >= ind[6] else None
                target = target_for(ind, q)
                score = score_of(value, target, ind[4])
                rows.append(
                    [
                        ind[0],
                        q,
                        "quarter",
                        scope,
                        value,
                        target,
                        None if score is None else round(score, 4),
                        status_of(score),
                        n,
                        "1.0",
                        ind[0] == STALE_INDICATOR and q == QUARTERS[-1],
                    ]
                )
                if scope == "city":
                    city_scores[(ind[0], q)] = None if score is None else round(score, 4)
    con.executemany("insert into marts.indicator_values values (?,?,?,?,?,?,?,?,?,?,?)", rows)

    con.execute(
        """create table marts.consideration_scores (consideration integer, period_start date,
        grain varchar, score double, status varchar, method_version varchar)"""
    )
    con.execute(
        """create table marts.composite_scores (period_start date, grain varchar, score double,
        status varchar, method_version varchar, n_considerations integer)"""
    )
    for q in QUARTERS:
        cons_scores = []
        for cons in range(1, 7):
            pairs = [
                (city_scores[(i[0], q)], i[5])
                for i in INDICATORS
                if i[1] == cons and city_scores[(i[0], q)] is not None
            ]
            score = round(sum(s * w for s, w in pairs) / sum(w for _s, w in pairs), 4)
            cons_scores.append(score)
            con.execute(
                "insert into marts.consideration_scores values (?,?,?,?,?,?)",
                [cons, q, "quarter", score, status_of(score), "1.0"],
            )
        comp = round(sum(cons_scores) / 6, 4)
        con.execute(
            "insert into marts.composite_scores values (?,?,?,?,?,?)",
            [q, "quarter", comp, status_of(comp), "1.0", 6],
        )

    con.execute(
        """create table marts.equity_theil (period_start date, grain varchar, theil_t double,
        between_district double, within_district double, n bigint, n_districts bigint,
        method_version varchar)"""
    )
    for qi, q in enumerate(QUARTERS):
        between, within = round(0.02 + 0.002 * qi, 4), round(0.60 - 0.01 * qi, 4)
        con.execute(
            "insert into marts.equity_theil values (?,?,?,?,?,?,?,?)",
            [q, "quarter", round(between + within, 4), between, within, 2000 + qi, 3, "1.0"],
        )
        for m in range(3):  # month rows too: the page must pick the quarter grain
            con.execute(
                "insert into marts.equity_theil values (?,?,?,?,?,?,?,?)",
                [dt.date(q.year, q.month + m, 1), "month", 0.9, 0.3, 0.6, 700, 3, "1.0"],
            )

    con.execute(
        """create table marts.feedback_funnel (period_start date, grain varchar, scope varchar,
        received integer, responded integer, resolved integer, confirmed_fixed integer)"""
    )
    for qi, q in enumerate(QUARTERS):
        totals = [0, 0, 0, 0]
        for code, _name, pop, access in DISTRICTS:
            received = int(pop / 1000 * (8 + 6 * access) + qi * 3)
            responded = int(received * (0.88 + 0.01 * (qi % 3)))
            resolved = int(responded * 0.81)
            confirmed = int(resolved * 0.55)
            for k, v in enumerate((received, responded, resolved, confirmed)):
                totals[k] += v
            con.execute(
                "insert into marts.feedback_funnel values (?,?,?,?,?,?,?)",
                [q, "quarter", code, received, responded, resolved, confirmed],
            )
        con.execute(
            "insert into marts.feedback_funnel values (?,?,?,?,?,?,?)", [q, "quarter", "city", *totals]
        )

    con.execute(
        """create table marts.feedback_text_trends (period_start date, scope varchar,
        topic_label varchar, n integer, mean_sentiment double)"""
    )
    months = [dt.date(2024 + m // 12, 1 + m % 12, 1) for m in range(24)]
    for mi, m in enumerate(months):
        for ti, topic in enumerate(TOPICS):
            city_n = 0
            for code, *_ in DISTRICTS:
                n = 5 + (mi + ti * 3) % 11
                city_n += n
                sent = round(math.sin(mi / 4 + ti) * 0.4 - 0.05 * ti, 3)
                con.execute(
                    "insert into marts.feedback_text_trends values (?,?,?,?,?)", [m, code, topic, n, sent]
                )
            con.execute(
                "insert into marts.feedback_text_trends values (?,?,?,?,?)",
                [m, "city", topic, city_n, round(math.sin(mi / 4 + ti) * 0.35, 3)],
            )

    con.execute(
        """create table marts.resident_comments (request_id varchar, opened_at timestamp,
        district_code varchar, category varchar, channel varchar, status varchar,
        description varchar, sentiment double, topic_label varchar)"""
    )
    phrases = [
        ("Pothole on [STREET] getting deeper, nearly lost a tyre", "potholes", "roads"),
        ("Street light flickering outside number [NUMBER] for weeks", "street lighting", "lighting"),
        ("Bins not collected this week again, call [PHONE] ignored", "waste collection", "waste"),
        ("Loud music every night from the unit on [STREET]", "noise", "environment"),
        ("The online form timed out twice before I could submit", "online forms", "digital"),
        ("Thank you, the crew fixed the pothole within two days", "potholes", "roads"),
    ]
    channels = ["web", "app", "phone", "walk-in", "email"]
    statuses = ["open", "closed", "closed", "in_progress"]
    for i in range(40):
        text, topic, category = phrases[i % len(phrases)]
        if i == 7:
            text, topic, category = SCRIPT_COMMENT, "street lighting", "lighting"
        if i == 13:
            text, topic, category = FORMULA_COMMENT, "noise", "environment"
        opened = dt.datetime(2024, 1, 3, 8, 0) + dt.timedelta(days=18 * i, hours=i % 9)
        con.execute(
            "insert into marts.resident_comments values (?,?,?,?,?,?,?,?,?)",
            [
                f"REQ-{10000 + i}",
                opened,
                DISTRICTS[i % 3][0],
                category,
                channels[i % 5],
                statuses[i % 4],
                text,
                round(-0.6 + (i % 7) * 0.2, 2),
                topic,
            ],
        )

    con.execute(
        """create table marts.survey_estimates (period_start date, question_id varchar,
        consideration integer, group_type varchar, group_value varchar, n integer,
        unweighted double, weighted double, n_eff double, design_effect double, ci_low double,
        ci_high double, suppressed boolean)"""
    )
    questions = [
        ("q_contact_easy", 3),
        ("q_digital_used", 4),
        ("q_satisfied", 5),
        ("q_trust", 5),
        ("q_told_outcome", 6),
        ("q_response_fast", 1),
    ]
    for qi, q in enumerate(QUARTERS):
        for question, cons in questions:
            for gi, (gtype, gval) in enumerate(SURVEY_GROUPS):
                n = {"city": 600, "district": 200, "age_band": 150, "sex": 300, "digital_access": 300}[
                    gtype
                ] + (qi * 7 + gi * 3) % 40
                if (gtype, gval) == ("age_band", "75+"):
                    n = 18 + qi  # below the survey minimum of 30: suppressed
                if (gtype, gval) == ("digital_access", "false") and question == "q_digital_used":
                    base = 0.21
                else:
                    base = 0.45 + 0.05 * (gi % 4) + 0.01 * qi
                unweighted = round(base + 0.03, 4)
                weighted = round(base, 4)
                deff = round(1.3 + 0.05 * (gi % 5), 3)
                n_eff = round(n / deff, 1)
                half = 1.96 * math.sqrt(weighted * (1 - weighted) / n_eff)
                suppressed = n < 30
                con.execute(
                    "insert into marts.survey_estimates values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        q,
                        question,
                        cons,
                        gtype,
                        gval,
                        n,
                        None if suppressed else unweighted,
                        None if suppressed else weighted,
                        None if suppressed else n_eff,
                        None if suppressed else deff,
                        None if suppressed else round(max(0.0, weighted - half), 4),
                        None if suppressed else round(min(1.0, weighted + half), 4),
                        suppressed,
                    ],
                )

    con.execute(
        """create table marts.review_actions (entry_id varchar, review_quarter varchar,
        indicator_id varchar, action_text varchar, action_owner varchar, action_due date,
        action_status varchar, action_completed_on date, is_overdue boolean)"""
    )
    con.executemany(
        "insert into marts.review_actions values (?,?,?,?,?,?,?,?,?)",
        [
            [
                "9b1f0c7e-0000-4000-8000-000000000001",
                "2025Q2",
                "C1_02",
                "Add a second crew to the SLA backlog",
                "Streets manager",
                dt.date(2025, 9, 30),
                "open",
                None,
                True,
            ],
            [
                "9b1f0c7e-0000-4000-8000-000000000002",
                "2025Q2",
                "C4_02",
                "Promote the app in libraries",
                "Digital lead",
                dt.date(2025, 8, 31),
                "done",
                dt.date(2025, 8, 20),
                False,
            ],
            [
                "9b1f0c7e-0000-4000-8000-000000000003",
                "2025Q3",
                "C6_01",
                "Send outcome texts for closed requests",
                "Contact centre lead",
                dt.date(2026, 3, 31),
                "open",
                None,
                False,
            ],
        ],
    )

    con.execute(
        """create table ops.load_log (file varchar, source varchar, sha256 varchar,
        status varchar, error varchar, rows_read integer, rows_accepted integer,
        rows_quarantined integer, loaded_at timestamp)"""
    )
    log = [
        ("inbox/reference/districts.csv", "reference", "loaded", None, 3, 3, 0, 0),
        ("inbox/feedback/open311_requests_2025-12-30.json", "feedback", "loaded", None, 412, 409, 3, 1),
        ("inbox/feedback/city311_2025-12-30.csv", "feedback", "loaded", None, 388, 384, 4, 1),
        ("inbox/feedback/city311_2025-12-29.csv", "feedback", "duplicate", None, 0, 0, 0, 2),
        ("inbox/kpis/kpis_2025-12.csv", "kpis", "loaded", None, 120, 118, 2, 3),
        ("inbox/kpis/kpis_2025-11.csv", "kpis", "rejected", "missing column: target", 0, 0, 0, 40),
        ("inbox/survey/survey_2025Q2.csv", "survey", "loaded", None, 1800, 1790, 10, 190),
        ("inbox/reviews/review_history.csv", "reviews", "loaded", None, 14, 14, 0, 20),
    ]
    base = dt.datetime(2026, 1, 2, 6, 0)
    for i, (f, src, status, err, read, acc, quar, days_ago) in enumerate(log):
        con.execute(
            "insert into ops.load_log values (?,?,?,?,?,?,?,?,?)",
            [
                f,
                src,
                f"{i:02d}" + "ab" * 31,
                status,
                err,
                read,
                acc,
                quar,
                base - dt.timedelta(days=days_ago),
            ],
        )
    con.execute(
        """create table ops.quarantine (file varchar, source varchar, line integer,
        reason varchar, raw_record varchar, quarantined_at timestamp)"""
    )
    reasons = {
        "feedback": [
            "unknown district",
            "unknown district",
            "unparseable timestamp",
            "closed before opened",
            "unknown district",
            "missing service_code",
            "unparseable timestamp",
        ],
        "kpis": ["actual is not a number", "period outside file month"],
        "survey": ["answer outside scale"] * 6 + ["unknown wave"] * 4,
    }
    for src, rs in reasons.items():
        f = next(x[0] for x in log if x[1] == src and x[2] == "loaded")
        for j, reason in enumerate(rs):
            con.execute(
                "insert into ops.quarantine values (?,?,?,?,?,?)",
                [
                    f,
                    src,
                    10 + j,
                    reason,
                    json.dumps({"line": 10 + j, "note": "[REDACTED]"}),
                    base - dt.timedelta(days=1),
                ],
            )
    con.execute(
        """create table marts.source_freshness (source varchar, last_loaded_at timestamp,
        latest_data_at timestamp, expected_cadence_days integer, is_stale boolean)"""
    )
    con.executemany(
        "insert into marts.source_freshness values (?,?,?,?,?)",
        [
            ["reference", base, dt.datetime(2025, 12, 31), 365, False],
            ["feedback", base - dt.timedelta(days=1), dt.datetime(2025, 12, 30, 23, 0), 1, False],
            ["kpis", base - dt.timedelta(days=3), dt.datetime(2025, 12, 1), 31, False],
            ["survey", base - dt.timedelta(days=190), dt.datetime(2025, 6, 30), 92, True],
            ["reviews", base - dt.timedelta(days=20), dt.datetime(2025, 12, 12), 92, False],
        ],
    )
