"""Fixtures shared by tests/browsable/ and the e2e modules that prove the browsable API and OpenAPI.

``widgets``: the app with the test-only upload box. ``live``: that app served over real HTTP
(browsable_live.py) with an ADMIN account and token. Test modules import them by name: a conftest.py
here would shadow tests/conftest.py for ``from conftest import ...`` in other directories.
"""

import pytest
from browsable_live import Live, serve
from browsable_widgets import install

PASSWORD = "browser-password-1"


@pytest.fixture
def widgets(app):
    """The app with the test-only upload box registered (mark the test @pytest.mark.fresh_app)."""
    return install(app)


@pytest.fixture
def live(widgets, make_account, token_for):
    """The app (with widgets) on a real HTTP port, plus an ADMIN's token and password."""
    admin = make_account(type="ADMIN", email="admin@example.org", username="admin", password=PASSWORD)
    token = token_for(admin)["Authorization"].split(" ", 1)[1]
    with serve(widgets) as base:
        yield Live(base=base, token=token, email=admin.email, password=PASSWORD)
