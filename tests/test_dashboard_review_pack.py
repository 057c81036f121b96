"""The review pack export: content, HTML escaping, CSV formula neutralisation, PDF."""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import review_pack  # noqa: E402

SCRIPT = "<script>alert('x')</script>"


def make_pack() -> review_pack.ReviewPack:
    return review_pack.ReviewPack(
        city="Sample City",
        quarter="2025Q4",
        tables={
            "agenda": pd.DataFrame(
                {
                    "item": [1],
                    "trigger": ["Red two quarters running"],
                    "indicator_id": ["C1_02"],
                    "detail": [f"Resident said {SCRIPT}"],
                }
            ),
            "scorecard": pd.DataFrame(
                {
                    "consideration": ["1. Responsiveness", "Composite"],
                    "score": ["92.5", "101.3"],
                    "status": ["Near target (amber)", "On target (green)"],
                }
            ),
            "decisions": pd.DataFrame(
                {
                    "indicator_id": ["C1_02", "C1_03", "C2_01", "C2_02"],
                    "decision": ["add_action"] * 4,
                    "rationale": ['=HYPERLINK("http://evil.example","x")', "+1", "-2", "@SUM(A1)"],
                }
            ),
            "actions": pd.DataFrame(
                {
                    "action_text": ["\tTabbed", "\rReturn", "plain"],
                    "action_due": [pd.Timestamp("2026-03-31")] * 3,
                }
            ),
        },
    )


def test_html_is_standalone_and_escaped() -> None:
    doc = review_pack.to_html(make_pack())
    assert doc.startswith("<!DOCTYPE html>") and "<style>" in doc
    assert "<script" not in doc.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in doc
    for heading in ("Agenda", "Scorecard", "Decisions", "Actions"):
        assert f"<h2>{heading}</h2>" in doc
    assert "Sample City — quarterly review 2025Q4" in doc and "2026-03-31" in doc
    assert 'http-equiv="Content-Security-Policy"' in doc


def test_csv_neutralises_formulas() -> None:
    data = zipfile.ZipFile(io.BytesIO(review_pack.to_csv_zip(make_pack())))
    assert sorted(data.namelist()) == sorted(
        f"review_2025Q4_{k}.csv" for k in ("agenda", "scorecard", "decisions", "actions")
    )
    rows = list(csv.reader(io.StringIO(data.read("review_2025Q4_decisions.csv").decode("utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ['\'=HYPERLINK("http://evil.example","x")', "'+1", "'-2", "'@SUM(A1)"]
    actions = list(
        csv.reader(io.StringIO(data.read("review_2025Q4_actions.csv").decode("utf-8-sig"), newline=""))
    )
    assert [r[0] for r in actions[1:]] == ["'\tTabbed", "'\rReturn", "plain"]
    agenda = data.read("review_2025Q4_agenda.csv").decode("utf-8-sig")
    assert SCRIPT in agenda  # CSV is data, not markup: text kept verbatim, only formulas defused


def test_neutralise_cell_leaves_numbers_and_plain_text() -> None:
    assert review_pack.neutralise_cell(-2) == -2
    assert review_pack.neutralise_cell("plain") == "plain"
    assert review_pack.neutralise_cell("-2") == "'-2"


def test_pdf_renders() -> None:
    pdf = review_pack.to_pdf(make_pack())
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
