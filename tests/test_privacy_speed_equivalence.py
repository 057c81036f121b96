"""Pseudonyms from the copied keyed HMAC are exactly ``hmac.new(key, value)`` of the normalised id."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
import pytest

from pipelines.ingest.privacy import PSEUDONYM_HEX_LENGTH, pseudonymise

IDENTIFIERS = [
    "resident@example.org",
    "  Resident@Example.ORG ",
    "Zoë Søndergaard",
    "ZOË SØNDERGAARD",
    "日本語の名前",
    "😀",
    "İstanbul",
    "ß",
    "a\x00b",
    "",
    "   ",
    None,
    "x" * 10_000,
    "resident@example.org",
]


def _reference(value: str | None, key: bytes) -> str | None:
    if value is None or not value.strip().lower():
        return None
    # polars' to_lowercase and Python's lower() agree on these inputs; the test checks that too.
    normalised = pl.Series([value]).str.strip_chars().str.to_lowercase().item()
    assert normalised == value.strip().lower()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_LENGTH]


@pytest.mark.parametrize("key", [b"k", b"k" * 32, b"k" * 64, b"k" * 65, bytes(range(256))], ids=len)
def test_pseudonyms_equal_a_fresh_hmac_per_value(key: bytes) -> None:
    # Keys longer than SHA-256's 64-byte block are hashed first; both sides of that edge are here.
    frame = pl.DataFrame({"id": pl.Series(IDENTIFIERS, dtype=pl.String)})
    got = frame.select(pseudonymise(pl.col("id"), key)).to_series().to_list()
    assert got == [_reference(value, key) for value in IDENTIFIERS]


def test_pseudonyms_of_many_values_keep_row_order_and_repeats() -> None:
    values = [f"reporter-{index % 997}@example.org" if index % 11 else None for index in range(20_000)]
    key = b"secret-key"
    got = pl.DataFrame({"id": values}).select(pseudonymise(pl.col("id"), key)).to_series().to_list()
    assert got == [_reference(value, key) for value in values]
