"""The ingest read-ahead: file order, errors handed over, bounded look-ahead, clean stop."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pipelines.ingest.read_ahead import read_ahead


def _files(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"f{index:02d}.txt"
        path.write_text(f"file {index}\n" * (index + 1))
        paths.append(path)
    return paths


def _rows(payload: bytes) -> int:
    return payload.count(b"\n")


def _recording_reader(paths: list[Path], rows_each: int, ahead_rows: int) -> tuple[Generator[Any], list[str]]:
    """A read-ahead whose parse returns ``rows_each`` and records the names it parsed."""
    parsed_names: list[str] = []

    def parse(path: Path, payload: bytes) -> int:
        parsed_names.append(path.name)
        return rows_each

    items = read_ahead(
        paths, parse, rows=int, skip_parse=lambda sha: False, ahead_rows=ahead_rows, parse_now=len
    )
    return items, parsed_names


@pytest.mark.parametrize("ahead_rows", [0, 1, 5, 1_000])
def test_every_file_comes_back_in_order_with_its_sha_and_parse(tmp_path: Path, ahead_rows: int) -> None:
    paths = _files(tmp_path, 8)
    items = list(
        read_ahead(
            paths,
            lambda path, payload: (path.name, _rows(payload)),
            rows=lambda parsed: parsed[1],
            skip_parse=lambda sha: False,
            ahead_rows=ahead_rows,
            parse_now=lambda path: pytest.fail("nothing was skipped"),
        )
    )
    assert [item.path for item in items] == paths
    assert [item.sha() for item in items] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert [item.parsed() for item in items] == [(p.name, i + 1) for i, p in enumerate(paths)]


def test_parse_errors_and_read_errors_reach_the_consumer_at_their_file(tmp_path: Path) -> None:
    paths = _files(tmp_path, 4)
    missing = tmp_path / "gone.txt"
    paths.insert(2, missing)

    def parse(path: Path, payload: bytes) -> int:
        if path.name == "f01.txt":
            raise ValueError("bad row in f01")
        return _rows(payload)

    items = list(
        read_ahead(paths, parse, rows=int, skip_parse=lambda sha: False, ahead_rows=10, parse_now=len)
    )
    assert [item.path for item in items] == paths
    with pytest.raises(ValueError, match="bad row in f01"):
        items[1].parsed()
    with pytest.raises(FileNotFoundError):
        items[2].sha()
    assert items[0].parsed() == 1 and items[4].parsed() == 4


def test_skipped_files_are_parsed_in_the_consumer_only_when_asked(tmp_path: Path) -> None:
    paths = _files(tmp_path, 3)
    skipped_sha = hashlib.sha256(paths[1].read_bytes()).hexdigest()
    parsed_in_reader: list[str] = []

    def parse(path: Path, payload: bytes) -> str:
        parsed_in_reader.append(path.name)
        return f"ahead:{path.name}"

    items = list(
        read_ahead(
            paths,
            parse,
            rows=lambda parsed: 1,
            skip_parse=lambda sha: sha == skipped_sha,
            ahead_rows=10,
            parse_now=lambda path: f"now:{path.name}:{threading.current_thread() is threading.main_thread()}",
        )
    )
    assert parsed_in_reader == ["f00.txt", "f02.txt"]
    assert [item.parsed() for item in items] == ["ahead:f00.txt", "now:f01.txt:True", "ahead:f02.txt"]


def test_the_reader_stays_within_its_row_budget(tmp_path: Path) -> None:
    items, parsed_names = _recording_reader(_files(tmp_path, 10), rows_each=3, ahead_rows=6)
    first = next(items)
    time.sleep(0.5)  # the consumer is busy: the reader must stop at its budget
    # Two files (6 rows) wait in the queue, plus at most the one being read when the budget filled.
    assert first.parsed() == 3 and 3 <= len(parsed_names) <= 4
    assert len(list(items)) == 9 and len(parsed_names) == 10


def test_a_consumer_that_stops_early_stops_the_reader(tmp_path: Path) -> None:
    items, parsed_names = _recording_reader(_files(tmp_path, 50), rows_each=1, ahead_rows=2)
    with pytest.raises(RuntimeError, match="commit failed"):
        for item in items:
            if item.path.name == "f03.txt":
                raise RuntimeError("commit failed")
    items.close()  # what a for loop's generator gets when its frame goes away
    assert not any(thread.name == "civicloop-read-ahead" for thread in threading.enumerate())
    assert len(parsed_names) < 10
