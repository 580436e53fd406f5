"""Forms in the browser change only what the person changed, in every domain with an edit form (issue 19).

test_browser_forms.py covers accounts (a user's PATCH), the scheduler (a schedule's partial PUT and its
create) and the data manager (an asset's PUT). Here the domains whose edit is a full PUT (the form must
start from every current value, JSON fields too, or the PUT wipes them): the catalogue (an item), data
sources (a project and its members) and objects (an action and its schema). Each test edits ONE field
in headless Chromium and reads the row back from the database: every other column is as it was.
"""

import os
import sys

import pytest
import requests

from app.extensions import db

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "browsable"))
sys.path.insert(0, os.path.join(TESTS, "clients"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from test_browser import WAIT, browser, sign_in_with_token  # noqa: E402,F401  (Chromium)
from test_browser_forms import api, changed_only, columns, field, open_page, submit  # noqa: E402
from walk_seed import SCHEMA, SPEC  # noqa: E402  (an action's schema, a catalogue item's spec)

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: the live fixture registers widgets
TIMEOUT = 30


def retitle(browser, name, value, form="default"):
    box = field(browser, name, form)
    box.clear()
    box.send_keys(value)
    return submit(browser, form)


def suggestions(browser, name, form="default"):
    """The values the form suggests for an id field (its options.link collection, loaded by the script)."""
    from selenium.webdriver.support.ui import WebDriverWait

    list_id = field(browser, name, form).get_attribute("list")
    assert list_id, f"{name} has no options list"

    def loaded(driver):
        values = driver.execute_script(
            "return Array.from(document.getElementById(arguments[0]).options).map(o => o.value);", list_id
        )
        return values or False

    return WebDriverWait(browser, WAIT).until(loaded)


def test_renaming_a_catalogue_item_keeps_its_spec_sample_and_maintainer(live, browser, make_account):
    from app.resources.catalogue.models import CatalogueItem

    maintainer = make_account(email="maint@example.org")
    body = {
        "name": "cars",
        "executor_type": "DATABRICKS",
        "spec": SPEC,
        "sample": [{"product": "kite", "price": 3}],
        "maintained_by_id": maintainer.id,
    }
    created = api(live).post(f"{live.base}/catalogue/items/", json=body, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    before = columns(CatalogueItem, item_id)

    sign_in_with_token(browser, live)
    open_page(browser, f"{live.base}/catalogue/items/{item_id}")
    assert field(browser, "name").get_attribute("value") == "cars"
    assert field(browser, "maintained_by_id").get_attribute("value") == str(maintainer.id)
    assert str(maintainer.id) in suggestions(browser, "maintained_by_id")  # picked from ec:users
    assert retitle(browser, "name", "cars and kites") == "200"

    after = columns(CatalogueItem, item_id)
    assert after["name"] == "cars and kites"
    assert changed_only(before, after, "name", "updated", "updated_by_id") == set()
    assert after["spec"] == SPEC and after["maintained_by_id"] == maintainer.id


def test_renaming_a_project_keeps_its_description_and_members(live, browser, make_account):
    from app.resources.datasources.models import Project, ProjectMember

    member = make_account(email="member@example.org")
    body = {
        "title": "Kites",
        "description": "All about kites",
        "members": [{"account": member.id, "role": "editor"}],
    }
    created = api(live).post(f"{live.base}/api/v1/projects/", json=body, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    before = columns(Project, project_id)

    sign_in_with_token(browser, live)
    open_page(browser, created.headers["Location"])
    assert field(browser, "project", "create-datasource").get_attribute("value") == str(project_id)
    assert retitle(browser, "title", "Kites and birds") == "200"

    after = columns(Project, project_id)
    assert after["title"] == "Kites and birds"
    assert changed_only(before, after, "title", "updated") == set()
    db.session.expire_all()
    members = db.session.query(ProjectMember).filter_by(project_id=project_id).all()
    assert [(m.account_id, m.role) for m in members] == [(member.id, "editor")]


def test_renaming_an_action_keeps_its_schema_and_description(live, browser):
    from app.resources.objects.models import Action

    body = {"type": "sample", "name": "Kite", "description": "Flies", "schema": SCHEMA}
    created = api(live).post(f"{live.base}/api/v1/actions/", json=body, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    action_id = created.json()["action_id"]
    before = columns(Action, action_id)

    sign_in_with_token(browser, live)
    open_page(browser, created.headers["Location"])
    assert retitle(browser, "name", "Red kite") == "200"

    after = columns(Action, action_id)
    assert after["name"] == "Red kite"
    assert changed_only(before, after, "name") == set()
    assert after["schema"] == SCHEMA and after["description"] == "Flies" and after["is_hidden"] is False


def test_an_objects_form_offers_the_actions_to_pick_from(live, browser):
    body = {"type": "sample", "name": "Kite", "schema": SCHEMA}
    action = requests.post(
        f"{live.base}/api/v1/actions/",
        json=body,
        headers={**live.auth, "Accept": "application/hal+json"},
        timeout=TIMEOUT,
    )
    assert action.status_code == 201, action.text
    sign_in_with_token(browser, live)
    open_page(browser, f"{live.base}/api/v1/objects/")
    assert suggestions(browser, "action_id") == [str(action.json()["action_id"])]
