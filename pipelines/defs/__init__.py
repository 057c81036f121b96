"""Dagster definitions, one module per domain; assembled in ``pipelines.definitions``."""
