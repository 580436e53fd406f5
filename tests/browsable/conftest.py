"""Fixtures of tests/browsable/ (defined in browsable_fixtures.py so tests/e2e/ can import them too)."""
from browsable_fixtures import live, widgets  # noqa: F401
