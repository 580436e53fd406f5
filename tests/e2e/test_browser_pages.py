"""Every page type of the browsable API in headless Chromium, at desktop width and at 375 px (issue 19).

One browser, one walk: the header's signed-in state (also on a 404), a form whose problem answer puts
each error next to its field, a collection as a table, an item, a relation page, the relations index,
a problem page and the documentation viewer (Swagger UI, served locally, under the pages' CSP). Each
page is checked at 375 px wide (no sideways scrolling of the page, no table cell squeezed to a few
letters a line) and photographed at both widths into ``test-output/browser-pages/`` (ignored by git;
replaced on each run; printed at the end).
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from test_browser import WAIT, browser, sign_in_with_token  # noqa: E402,F401  (Chromium)

from app.jobs import enqueue  # noqa: E402
from app.jobs.probe import probe  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: the live fixture registers widgets
DESKTOP, PHONE = (1280, 1100), (375, 1100)
ARTIFACTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "test-output"
)
# Cells (th/td) of the main content squeezed so narrow that words break every few letters; and whether the
# page itself scrolls sideways (tables may scroll inside their own box).
SQUEEZED = """
const bad = [];
document.querySelectorAll('main th, main td, main label, main h1, main h2, main h3').forEach(function (c) {
  const r = c.getBoundingClientRect(), text = (c.innerText || '').trim();
  const line = parseFloat(getComputedStyle(c).lineHeight) || 18;
  if (r.width > 0 && r.width < 44 && text.length > 5 && r.height > 3 * line)
    bad.push(c.tagName + ':' + text.slice(0, 30));
});
return {bad: bad, scroll: document.documentElement.scrollWidth, width: window.innerWidth};
"""


def viewport(driver, size):
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def test_every_page_type_at_desktop_and_phone_width(live, browser, tmp_path, make_account):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    owner = make_account(type="RESEARCHER")
    job = None
    for _ in range(3):
        job = enqueue(probe, 1, 0.0, False, kind="probe", owner=owner)
    wait = WebDriverWait(browser, WAIT)
    css = lambda selector: browser.find_element(By.CSS_SELECTOR, selector)  # noqa: E731
    shots = Path(ARTIFACTS) / "browser-pages"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    taken = []

    def show(url, ready, name):
        """Open ``url`` (the script fetches it again with the tab's token), check it at 375 px, photograph."""
        browser.get(url)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ready)))
        for label, size in (("desktop", DESKTOP), ("375px", PHONE)):
            viewport(browser, size)
            layout = browser.execute_script(SQUEEZED)  # the page never scrolls sideways, at either width
            assert layout["scroll"] <= layout["width"] + 1, (name, label, layout)
            if label == "375px":
                assert layout["bad"] == [], (name, layout)
            path = shots / f"{len(taken) + 1:02d}-{name}-{label}.png"
            assert browser.save_screenshot(str(path)), path
            taken.append(path)
        viewport(browser, DESKTOP)

    signed_in = "body[data-user]:not([data-user='']) header .auth #signout"

    # 1. The header: signed out shows only "Sign in"; signed in only who + "Sign out", also on a 404.
    browser.get(live.base + "/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "header .auth details.signin")))
    assert not browser.find_elements(By.ID, "signout")
    show(live.base + "/", "header .auth details.signin", "entry-point-signed-out")
    sign_in_with_token(browser, live)
    assert not browser.find_elements(By.CSS_SELECTOR, "header .auth details.signin")
    show(live.base + "/no/such/path", signed_in + ", section.problem", "problem-404")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, signed_in)))
    assert live.email in css("header .auth .who").text and css("body").get_attribute("data-status") == "404"
    assert not browser.find_elements(By.CSS_SELECTOR, "header .auth details.signin")

    # 2. A form: field names as labels; a 400 puts its message next to the field, not in a JSON dump.
    show(live.base + "/test-widgets/box", signed_in, "form-page")
    box = css("form[data-name=default] .prop[data-field=label]")
    assert box.find_element(By.CSS_SELECTOR, "label.name").text.rstrip(" *") == "label"
    field = box.find_element(By.CSS_SELECTOR, "input[name=label]")
    browser.execute_script(
        "arguments[0].value = arguments[1]", field, "x" * 81
    )  # past maxLength: the server says
    css("form[data-name=default] button[type=submit]").click()
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".prop[data-field=label] .field-error")))
    assert css("form[data-name=default] .result p.status").get_attribute("data-status") == "400"
    assert "80" in box.find_element(By.CSS_SELECTOR, ".field-error").text  # the length limit, by the field
    assert "invalid" in box.get_attribute("class") and field.get_attribute("aria-invalid") == "true"
    assert not css("form[data-name=default] details.raw-response").get_attribute("open")  # body folded away
    browser.execute_script("arguments[0].scrollIntoView()", box)
    for label, size in (("desktop", DESKTOP), ("375px", PHONE)):
        viewport(browser, size)
        browser.execute_script("arguments[0].scrollIntoView()", box)
        path = shots / f"{len(taken) + 1:02d}-form-error-{label}.png"
        assert browser.save_screenshot(str(path))
        taken.append(path)
    viewport(browser, DESKTOP)

    # 3. A collection as a table, an item, relation pages, the relations index.
    show(live.base + "/jobs/", signed_in + " ~ * table.items, table.items", "collection")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.items tbody tr.item")) == 3
    show(f"{live.base}/jobs/{job.id}", signed_in, "item")
    show(live.base + "/rels/jobs", "section.relation table.rel-grammar", "relation")
    show(live.base + "/rels/", "section.resource", "relations-index")

    # 4. The documentation viewer, linked from / as service-doc: Swagger UI renders the description.
    browser.get(live.base + "/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, signed_in)))  # re-rendered with the token
    docs = wait.until(  # read in one script: the page may still swap its table in (no stale element)
        lambda d: d.execute_script(
            "const a = document.querySelector(\"tr.link[data-rel='service-doc'] a\"); return a && a.href"
        )
    )
    assert docs == live.base + "/_browsable/api-docs"
    browser.get_log("browser")  # drop earlier messages
    show(docs, "#swagger-ui .opblock", "api-docs")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#swagger-ui .opblock")) > 20
    assert "Halyard" in css("#swagger-ui .info .title").text
    blocked = [m["message"] for m in browser.get_log("browser") if "Content Security Policy" in m["message"]]
    assert blocked == []

    print(f"screenshots: {shots}")
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(p.name for p in taken) and len(taken) == 18
