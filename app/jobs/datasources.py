"""Data-source jobs: materialise a source's table; run a step job in the sandbox. Both take ids."""

from app.resources.datasources.processing import process_source, run_steps

__all__ = ["process_source", "run_steps"]
