"""A real browser (headless Chromium driven by Selenium) uses the browsable API from GET /.

Signs in with a token (kept in sessionStorage), follows links, submits the HAL-FORMS probe form,
follows the Location it answers, filters the jobs list with the grammar form, uploads a file through a
multipart HAL-FORMS form (test-only upload box) and sees it listed; reading with JavaScript off works
too. A screenshot of every step is saved under the test's tmp directory (printed at the end).
"""

import os
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from browsable_live import wait_until_healthy  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]
WAIT = 15


def chromium(tmp_path, name, javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.path.exists(path), (
            f"{path} is missing: apt-get install chromium chromium-driver (.ci/apt-packages)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / ('profile-' + name)}"]:
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors (CSP) for the tests
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path, "main")
    yield driver
    driver.quit()


def sign_in_with_token(browser, live):
    """Sign in on the entry point with the live ADMIN's token (the script keeps it in sessionStorage)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    browser.get(live.base + "/")
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "Halyard"))
    browser.find_element(By.CSS_SELECTOR, "details.signin > summary").click()
    browser.find_element(By.CSS_SELECTOR, "#signin-token input[name=token]").send_keys(live.token)
    browser.find_element(By.CSS_SELECTOR, "#signin-token button").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".auth .who"), live.email))


class Steps:
    """Screenshots numbered in the order taken."""

    def __init__(self, driver, directory):
        self.driver, self.directory, self.n = driver, directory, 0
        directory.mkdir(exist_ok=True)

    def shot(self, name):
        self.n += 1
        path = self.directory / f"{self.n:02d}-{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path


def test_a_person_with_a_browser_uses_the_api(live, worker_process, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    worker_process()
    wait_until_healthy(live)
    wait = WebDriverWait(browser, WAIT)
    steps = Steps(browser, tmp_path / "screenshots")
    css = lambda selector: browser.find_element(By.CSS_SELECTOR, selector)  # noqa: E731

    def wait_for_heading(text):
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), text))

    # 1. The entry point, anonymously.
    browser.get(live.base + "/")
    wait_for_heading("Halyard")
    assert css("tr.link[data-rel='ec:jobs'] a[rel='ec:jobs']").get_attribute("href") == live.base + "/jobs/"
    assert css(".auth details.signin summary").text == "Sign in"
    assert not browser.find_elements(By.ID, "signout")
    steps.shot("entry-point")

    # 2. Sign in with a token: kept in sessionStorage, the page comes back signed in.
    css("details.signin > summary").click()
    css("#signin-token input[name=token]").send_keys(live.token)
    steps.shot("sign-in-form")
    css("#signin-token button").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".auth .who"), live.email))
    assert browser.execute_script("return sessionStorage.getItem('halyard.auth')") == f"Bearer {live.token}"
    assert browser.get_cookies() == []  # nothing beyond the tab's session storage
    steps.shot("signed-in")

    # 3. Follow a link to the health resource; its HAL-FORMS template is a form.
    css("a[rel='ec:health']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form.hal-form[data-name=probe]")))
    assert browser.current_url == live.base + "/api/health/"
    assert css("section.request p.status").get_attribute("data-status") == "200"
    steps.shot("health")

    # 4. Submit the probe form (POST, JSON) and see the response.
    steps_input = css("form[data-name=probe] input[name=steps]")
    steps_input.clear()
    steps_input.send_keys("2")
    css("form[data-name=probe] button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[data-name=probe] .result p.status")))
    result = css("form[data-name=probe] .result")
    assert result.find_element(By.CSS_SELECTOR, "p.status").get_attribute("data-status") == "202"
    assert '"kind": "probe"' in result.find_element(By.CSS_SELECTOR, "pre").text
    steps.shot("probe-submitted")

    # 5. Follow the Location to the job.
    job_url = result.find_element(By.CSS_SELECTOR, "a.location").get_attribute("href")
    result.find_element(By.CSS_SELECTOR, "a.location").click()
    wait.until(EC.url_to_be(job_url))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "section.resource table.props")))
    assert "probe" in css("section.resource table.props").text
    steps.shot("job")

    # 6. A failing job too, then the jobs list filtered through the grammar form.
    session = requests.Session()
    session.headers.update(live.auth)
    forms = session.get(
        live.base + "/api/health/", headers={"Accept": "application/prs.hal-forms+json"}
    ).json()
    probe = forms["_templates"]["probe"]
    failing = session.request(probe["method"], probe["target"], json={"steps": 1, "fail": True}).headers[
        "Location"
    ]
    deadline = time.monotonic() + 120  # generous: the jobs page below needs both jobs settled
    while not (
        session.get(failing).json()["status"] == "failed"
        and session.get(job_url).json()["status"] == "finished"
    ):
        assert time.monotonic() < deadline, "the probe jobs did not settle"
        time.sleep(0.25)
    css("a.brand").click()
    wait.until(EC.url_to_be(live.base + "/"))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "a[rel='ec:jobs']"))).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "section.grammar form")))
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.embedded table.items tr.item")) == 2
    steps.shot("jobs")
    from selenium.webdriver.support.ui import Select

    Select(css(".filter-row[data-field=status] select.value")).select_by_value("failed")  # an enum
    css("section.grammar button[type=submit]").click()
    wait.until(EC.url_contains("status=failed"))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.embedded table.items tr.item")) == 1)
    assert "1 shown of 1" in css("nav.paging").text
    selected = css(".filter-row[data-field=status] select.value option:checked")
    assert selected.get_attribute("value") == "failed"
    steps.shot("jobs-filtered")

    # 7. Upload a file through a multipart HAL-FORMS form and see it listed.
    css("a.brand").click()
    wait.until(EC.url_to_be(live.base + "/"))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "a[rel='ec:widget-box']"))).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form.hal-form[data-name=upload]")))
    upload = tmp_path / "report.csv"
    upload.write_text("a,b\n1,2\n")
    css("form[data-name=upload] input[name=file]").send_keys(str(upload))
    css("form[data-name=upload] input[name=note]").send_keys("from Chromium")
    steps.shot("upload-form")
    css("form[data-name=upload] button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[data-name=upload] .result p.status")))
    assert css("form[data-name=upload] .result p.status").get_attribute("data-status") == "201"
    steps.shot("uploaded")
    before = css("main h1")
    css(
        "tr.link[data-rel=self] a"
    ).click()  # reload the box through its self link (same URL: wait for the swap)
    wait.until(EC.staleness_of(before))
    wait.until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "section.embedded[data-rel='ec:widget-file']"))
    )
    listed = css("section.embedded[data-rel='ec:widget-file']").text
    assert "report.csv" in listed and "from Chromium" in listed and "8" in listed
    steps.shot("upload-listed")

    # 8. Sign out: the credentials leave sessionStorage and the page is anonymous again.
    css("#signout").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".auth details.signin")))
    assert not browser.find_elements(By.ID, "signout")
    assert not browser.find_elements(By.CSS_SELECTOR, ".auth .who")
    assert browser.execute_script("return sessionStorage.getItem('halyard.auth')") is None
    steps.shot("signed-out")
    print(f"screenshots: {steps.directory}")
    assert len(list(steps.directory.glob("*.png"))) == steps.n


def test_reading_works_with_javascript_off(live, tmp_path):
    from selenium.webdriver.common.by import By

    driver = chromium(tmp_path, "nojs", javascript=False)
    try:
        driver.get(live.base + "/")
        assert driver.find_element(By.CSS_SELECTOR, "main h1").text == "Halyard"
        assert driver.find_element(By.CSS_SELECTOR, "noscript").get_attribute("innerHTML")
        driver.find_element(By.CSS_SELECTOR, "a[rel='ec:rels']").click()  # a plain link, no script involved
        assert driver.current_url == live.base + "/rels/"
        assert "relations" in driver.find_element(By.CSS_SELECTOR, "section.resource").text
        driver.save_screenshot(str(tmp_path / "no-javascript.png"))
    finally:
        driver.quit()
