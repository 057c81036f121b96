"""The feedback source: pick the matching profile, parse, validate, and hand rows to the loader."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.ingest.decoding import UnreadableFileError
from pipelines.ingest.feedback import parse_feedback, read_feedback_file
from pipelines.ingest.loader import LoadContext, ParsedFile, TableWrite
from pipelines.ingest.profiles import FeedbackProfile, match_profile, shipped_profiles


def feedback_profile_for(file_name: str) -> FeedbackProfile:
    """The shipped feedback profile whose ``match`` fits the file name, or an explanation."""
    profiles = shipped_profiles("feedback")
    profile = match_profile(file_name, profiles)
    if not isinstance(profile, FeedbackProfile):
        patterns = sorted({pattern for candidate in profiles for pattern in candidate.match})
        raise UnreadableFileError(
            f"no feedback profile matches file name {file_name!r}; known patterns: {patterns}. "
            "Add a YAML profile in pipelines/ingest/profiles/."
        )
    return profile


def parse_feedback_file(path: Path, text: str, context: LoadContext) -> ParsedFile:
    """Parse one feedback file into raw.feedback_requests rows and quarantined rows."""
    profile = feedback_profile_for(path.name)
    frame = read_feedback_file(text, profile)
    parsed = parse_feedback(
        frame.lazy(),
        profile,
        context.district_aliases(),
        source_file=path.name,
        pseudonym_key=context.pseudonym_key,
        now=context.now,
    )
    accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])
    return ParsedFile(
        rows_read=frame.height,
        rows_accepted=accepted.height,
        writes=[TableWrite("feedback_requests", accepted, ("request_id",), "feedback")],
        quarantine=quarantined,
    )
