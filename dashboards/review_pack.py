"""The quarterly review pack: agenda, scorecard, decisions and actions as HTML, PDF and CSV.

Resident text arrives already redacted by the pipeline. Here every cell is HTML-escaped in the
HTML/PDF and, in CSV, cells beginning with ``= + - @`` (or tab / carriage return) are prefixed with
an apostrophe so spreadsheets do not run them as formulas.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import zipfile
from dataclasses import dataclass, field

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SECTIONS = (
    ("agenda", "Agenda"),
    ("scorecard", "Scorecard"),
    ("decisions", "Decisions"),
    ("actions", "Actions"),
)

CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; color: #1b1b1b; margin: 2em; font-size: 10pt; }
h1 { font-size: 18pt; margin-bottom: 0.2em; }
h2 { font-size: 13pt; border-bottom: 2px solid #1f4e79; padding-bottom: 2px; margin-top: 1.6em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin-top: 0.5em; }
th, td { border: 1px solid #c8c8c8; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
tr:nth-child(even) td { background: #fafafa; }
td.empty { color: #777; font-style: italic; }
@page { size: A4 landscape; margin: 1.5cm; }
"""


@dataclass
class ReviewPack:
    city: str
    quarter: str
    tables: dict[str, pd.DataFrame]
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))


def neutralise_cell(value: object) -> object:
    """Prefix text that a spreadsheet would treat as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat()
    return str(value)


def _html_table(df: pd.DataFrame) -> str:
    if df.empty:
        return '<table><tr><td class="empty">None this quarter.</td></tr></table>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def to_html(pack: ReviewPack) -> str:
    """A standalone HTML document (inline CSS, no scripts, every value escaped)."""
    title = f"{pack.city} — quarterly review {pack.quarter}"
    body = "".join(
        f"<h2>{html.escape(label)}</h2>{_html_table(pack.tables.get(key, pd.DataFrame()))}"
        for key, label in SECTIONS
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="meta">Generated {pack.generated_at:%Y-%m-%d %H:%M} by civicloop. '
        "Resident text is redacted.</p>"
        f"{body}</body></html>\n"
    )


def to_pdf(pack: ReviewPack) -> bytes:
    from weasyprint import HTML  # imported lazily: needs the Debian pango libraries

    return HTML(string=to_html(pack)).write_pdf()


def to_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise_cell(str(c)) for c in df.columns])
    for row in df.itertuples(index=False):
        writer.writerow([neutralise_cell(_text(v)) for v in row])
    return buf.getvalue()


def to_csv_zip(pack: ReviewPack) -> bytes:
    """One CSV per table (UTF-8 with BOM so spreadsheets detect the encoding) in a zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, _label in SECTIONS:
            df = pack.tables.get(key, pd.DataFrame())
            zf.writestr(f"review_{pack.quarter}_{key}.csv", "\ufeff" + to_csv(df))
    return buf.getvalue()
