"""civicloop pipelines: ingestion, analytics and orchestration of the feedback-loop warehouse."""
