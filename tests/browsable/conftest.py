"""Fixtures of the browsable-API and OpenAPI tests: the test-only widgets blueprint."""
import pytest

from browsable_widgets import install


@pytest.fixture
def widgets(app):
    """The app with the test-only upload box (tests/browsable/browsable_widgets.py) registered."""
    return install(app)
