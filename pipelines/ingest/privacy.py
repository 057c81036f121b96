"""PII redaction and keyed pseudonyms, as vectorised polars expressions.

Everything that ingestion writes to DuckDB (accepted rows, quarantine records, error messages)
passes through these functions first, so the warehouse never holds a resident's contact details.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
# Street addresses: a house number, up to three name words, then a street-type word.
ADDRESS_PATTERN = (
    r"(?i)\b\d{1,5}[A-Za-z]?(?:\s*-\s*\d{1,5})?\s+(?:[NSEW]\.?\s+)?(?:[A-Za-z0-9'.\-]+\s+){0,3}"
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl"
    r"|terrace|ter|square|sq|parkway|pkwy|highway|hwy|circle|cir|crescent|cres|close|row|grove"
    r"|gardens|mews|alley|walk|trail|path|loop|plaza|heights)\b\.?"
)
# North-American and international phone numbers, with or without separators.
PHONE_PATTERN = (
    r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)|\b\d{3})[\s.\-]?\d{3}[\s.\-]?\d{4}\b"
    r"|\+\d{2,3}[\s.\-]?\d{2,4}[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}\b"
)
# Free text rarely names people except after a title or an introduction; those cases are caught.
NAME_PATTERN = (
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Inspector|Officer|Supervisor)\.?\s+[A-Z][A-Za-z'\-]+"
    r"(?:\s+[A-Z][A-Za-z'\-]+)?"
    r"|(?i:my name is|this is|signed|regards,?|contact|ask for|ask|speak to|named|call|tell|thank)"
    r"\s+[A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+)?"
)

PSEUDONYM_HEX_LENGTH = 16


def redact_text(expr: pl.Expr) -> pl.Expr:
    """Replace emails, phone numbers, street addresses and titled/introduced names in free text.

    Placeholders are ``[EMAIL]``, ``[PHONE]``, ``[ADDRESS]`` and ``[NAME]``; nulls stay null.
    """
    return (
        expr.str.replace_all(EMAIL_PATTERN, "[EMAIL]")
        .str.replace_all(ADDRESS_PATTERN, "[ADDRESS]")
        .str.replace_all(PHONE_PATTERN, "[PHONE]")
        .str.replace_all(NAME_PATTERN, "[NAME]")
    )


def redact_name_field(expr: pl.Expr) -> pl.Expr:
    """A field designated as holding a person's name is replaced whole by ``[NAME]``."""
    return pl.when(expr.is_null() | (expr.str.strip_chars() == "")).then(expr).otherwise(pl.lit("[NAME]"))


def _hmac_hex(values: pl.Series, key: bytes) -> pl.Series:
    # polars has no keyed hash; hashing each distinct value once keeps this cheap for reporter ids.
    distinct = values.drop_nulls().unique()
    # Copying a keyed HMAC skips deriving the padded key for every value: a quarter faster per value.
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(value: str) -> str:
        mac = keyed.copy()
        mac.update(value.encode())
        return mac.hexdigest()[:PSEUDONYM_HEX_LENGTH]

    digests = list(map(digest, distinct.to_list()))
    mapping = pl.DataFrame({"value": distinct, "digest": pl.Series(digests, dtype=pl.String)})
    return (
        values.to_frame("value")
        .join(mapping, on="value", how="left", maintain_order="left")
        .get_column("digest")
        .alias(values.name)
    )


def pseudonymise(expr: pl.Expr, key: bytes) -> pl.Expr:
    """Keyed HMAC-SHA256 pseudonym (hex prefix) of a trimmed, lower-cased identifier; null stays null."""
    normalised = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    cleaned = pl.when(normalised != "").then(normalised)
    return cleaned.map_batches(lambda series: _hmac_hex(series, key), return_dtype=pl.String)


def redact_message(message: str) -> str:
    """Redact one error message (e.g. a parser error quoting file content) before it is logged."""
    return pl.select(redact_text(pl.lit(message, dtype=pl.String))).item()
