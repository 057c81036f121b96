-- Which source formats record first responses at all; one row per source format. A format that
-- never records one (NYC, SF 311 exports) does not say "no response": the period aggregates leave
-- its requests out of the response share. Built once per build from the whole history, and read
-- both by the period aggregates and by their rebuild fingerprint (macros/feedback_incremental.sql),
-- which had scanned every request for each of its lookups.
select
    source_format,
    bool_or(first_response_at is not null) as is_response_recorded
from {{ ref('stg_feedback__requests') }}
group by source_format
