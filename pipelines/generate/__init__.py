"""Synthetic city generator behind ``civicloop generate``.

Writes a seeded, realistic city into ``<data_dir>/inbox/<source>/`` in the formats fixed by
docs/contracts.md, and records everything planted in ``<data_dir>/truth.json``:

- reference: 12 districts (D01-D12) with aliases, adult census population by age band x sex,
  21 services mapped to 6 agencies (PW, TR, ENV, PRK, HSG, DTO), grid polygons around a
  fictional city in central Illinois (timezone America/Chicago). D04 has low digital access (0.55).
- feedback: one Open311 JSON (~40%) and one city CSV (~60%) file per day; volume follows
  population x reporting propensity with weekday and summer peaks; digital channel share rises
  over time and is lower in D04 and for older reporters; resolution time lognormal per service
  (D07 is k=2.5x slower for every service); first responses become more common; reopenings,
  "fixed?" follow-ups and description tone follow outcomes; negative tone declines over time.
  D10 reports at 0.3x the per-capita rate but has the highest survey problem rate.
  PII (emails, phones, names, street addresses) is planted in text at known rates, plus
  ``pii_canaries``. Faults at known rates: malformed dates, unknown districts, missing required
  fields (service code or request id), closed-before-opened, re-exported later versions of a
  record in the next day's file (duplicate ids), and one city CSV in cp1252.
- survey: a quarterly wave skewed to older people, women and D02, answers from a logistic
  model; the true population agree shares per wave are in truth.json; out-of-range answers.
- kpis: monthly agency KPIs with targets; reviews: past quarterly reviews (one skipped, one late,
  one corrected entry).

Every day uses its own random stream, so generation is deterministic, streams day by day and
memory stays bounded by one day's requests.
"""

from pipelines.generate.core import generate_city, generate_feedback_day

__all__ = ["generate_city", "generate_feedback_day"]
