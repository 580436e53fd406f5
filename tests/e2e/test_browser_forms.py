"""Forms in the browser send only what the person changed (issue 19, first part).

Each test edits ONE field through the browsable HAL-FORMS form in headless Chromium and then reads the
resource back through the API and its row from the database: every other field is as it was. Seen
before this fix: a PATCH of a user's username deactivated the account (the unchecked checkbox was sent
as false), a schedule created with "Enabled" left as rendered was disabled, and renaming an asset was
refused (empty multi-line fields were sent as []).
"""

import os
import sys
import uuid

import pytest
import requests
from sqlalchemy import inspect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from test_browser import WAIT, browser, sign_in_with_token  # noqa: E402,F401  (Chromium)

from app.extensions import db  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: the live fixture registers widgets
TIMEOUT = 30


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


def api(live):
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {live.token}", "Accept": "application/hal+json"})
    return session


def open_page(browser, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, WAIT).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "body[data-user] form.hal-form[data-name=default]"))
    )


def submit(browser, form="default"):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.CSS_SELECTOR, f"form[data-name={form}] button[type=submit]").click()
    selector = f"form[data-name={form}] .result p.status"
    WebDriverWait(browser, WAIT).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))
    return browser.find_element(By.CSS_SELECTOR, selector).get_attribute("data-status")


def field(browser, name, form="default"):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f"form[data-name={form}] [name='{name}']")


def columns(model, key):
    """The row's columns as the database holds them now (not the session's copy)."""
    db.session.expire_all()
    row = db.session.get(model, key)
    return {attr.key: getattr(row, attr.key) for attr in inspect(model).column_attrs}


def changed_only(before, after, *allowed):
    return {k for k in before if before[k] != after[k]} - set(allowed)


def without(doc, *keys):
    return {k: v for k, v in doc.items() if k not in ("_links", "_templates", "_embedded", *keys)}


def test_renaming_a_user_changes_nothing_else(live, browser, make_account):
    user = make_account(email="kim@example.org", username="kim", type="USER")
    url = f"{live.base}/api/v1/user/{user.id}/"
    session = api(live)
    before = session.get(url, timeout=TIMEOUT).json()
    assert before["active"] is True and before["username"] == "kim"
    from app.resources.accounts.models import Account

    row = columns(Account, user.id)

    sign_in_with_token(browser, live)
    open_page(browser, url)
    box = field(browser, "username")
    assert box.get_attribute("value") == "kim"  # the edit form starts from the current values
    assert field(browser, "active").is_selected()
    box.clear()
    box.send_keys("kim-renamed")
    assert submit(browser) == "200"

    after = session.get(url, timeout=TIMEOUT).json()
    assert after["username"] == "kim-renamed"
    changeable = ("username", "updated", "modified")
    assert without(after, *changeable) == without(before, *changeable)
    assert after["active"] is True
    assert changed_only(row, columns(Account, user.id), "username", "updated", "modified") == set()


def test_a_schedule_created_with_enabled_left_as_rendered_is_enabled(live, browser):
    sign_in_with_token(browser, live)
    open_page(browser, f"{live.base}/api/v1/schedule/")
    field(browser, "endpoint").send_keys("http://127.0.0.1:9/hook")
    field(browser, "interval_definition").send_keys("5 minutes")
    assert submit(browser) == "201"

    session = api(live)
    listed = session.get(f"{live.base}/api/v1/schedule/", timeout=TIMEOUT).json()
    (schedule,) = listed["_embedded"]["ec:schedule"]
    assert schedule["enabled"] is True  # the API's default, not false from an untouched checkbox
    assert schedule["interval_definition"] == "5 minutes"


def test_editing_one_field_of_a_schedule_keeps_the_others(live, browser):
    session = api(live)
    created = session.post(
        f"{live.base}/api/v1/schedule/",
        json={
            "endpoint": "http://127.0.0.1:9/hook",
            "interval_definition": "2 hours",
            "payload": {"a": 1},
            "frequency": 7,
            "enabled": False,
        },
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    before = session.get(url, timeout=TIMEOUT).json()
    from app.resources.scheduler.models import Schedule

    schedule_id = uuid.UUID(before["id"])
    row = columns(Schedule, schedule_id)

    sign_in_with_token(browser, live)
    open_page(browser, url)
    assert field(browser, "endpoint").get_attribute("required") is None  # PUT here is partial
    assert field(browser, "auth_token").get_attribute("type") == "password"
    box = field(browser, "frequency")
    assert box.get_attribute("value") == "7"
    box.clear()
    box.send_keys("9")
    assert submit(browser) == "200"

    after = session.get(url, timeout=TIMEOUT).json()
    assert after["frequency"] == 9
    keep = ("endpoint", "interval_definition", "cron_definition", "payload", "enabled")
    assert {k: after[k] for k in keep} == {k: before[k] for k in keep}
    assert after["enabled"] is False
    assert (
        changed_only(row, columns(Schedule, schedule_id), "frequency", "updated_at", "updated_by_id") == set()
    )


def test_renaming_an_asset_keeps_its_tags_and_files(live, browser):
    session = api(live)
    space = session.post(f"{live.base}/datamanager/", json={"title": "Photos"}, timeout=TIMEOUT)
    assert space.status_code == 201, space.text
    assets = space.headers["Location"].rstrip("/") + "/assets/"
    upload = session.post(assets, files={"file": ("kite.txt", b"a kite\n", "text/plain")}, timeout=TIMEOUT)
    assert upload.status_code == 201, upload.text
    listed = session.get(assets, timeout=TIMEOUT).json()
    (asset,) = listed["_embedded"]["ec:asset"]
    url = asset["_links"]["self"]["href"]
    tagged = session.put(
        url,
        json={"tags": ["red", "bird"]},
        headers={"If-Match": session.get(url, timeout=TIMEOUT).headers["ETag"]},
        timeout=TIMEOUT,
    )
    assert tagged.status_code == 200, tagged.text
    before = session.get(url, timeout=TIMEOUT).json()
    from app.resources.datamanager.models import Asset

    row = columns(Asset, uuid.UUID(before["assetID"]))

    sign_in_with_token(browser, live)
    open_page(browser, url)
    box = field(browser, "title")
    box.clear()
    box.send_keys("A red kite")
    assert submit(browser) == "200"

    after = session.get(url, timeout=TIMEOUT).json()
    assert after["title"] == "A red kite"
    assert sorted(after["tags"]) == ["bird", "red"]
    assert [f["url"] for f in after["files"]] == [f["url"] for f in before["files"]] != []
    assert changed_only(row, columns(Asset, uuid.UUID(before["assetID"])), "title") == set()
