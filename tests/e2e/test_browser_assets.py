"""A person with headless Chromium uploads an asset: from GET / to a data manager space's asset list.

Signs in with a token, follows ec:datamanagers, creates a space through its HAL-FORMS form, follows
the Location to the space and its ec:assets link, uploads two real PNGs through the multipart HAL-FORMS
form (one <input type=file multiple>), sees them listed with their sniffed type and resolution, then
filters the list with the grammar form. A screenshot of each step is saved under the test's tmp dir.
"""

import io
import os
import sys
from urllib.parse import unquote

import pytest
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from test_browser import WAIT, Steps, browser, sign_in_with_token  # noqa: E402,F401  (Chromium, screenshots)

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: the live fixture registers widgets


def write_png(path, width, height, colour):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def test_a_person_uploads_an_asset_and_filters_the_list(live, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    steps = Steps(browser, tmp_path / "screenshots")
    css = lambda selector: browser.find_element(By.CSS_SELECTOR, selector)  # noqa: E731

    def items():
        return browser.find_elements(By.CSS_SELECTOR, "section.embedded[data-rel='ec:asset'] tr.item")

    def result_status(form):
        wait.until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f"form[data-name={form}] .result p.status"))
        )
        return css(f"form[data-name={form}] .result p.status").get_attribute("data-status")

    # 1. Sign in on the entry point with a token.
    sign_in_with_token(browser, live)
    steps.shot("signed-in")

    # 2. Follow ec:datamanagers; create a space with the list's HAL-FORMS form (POST JSON).
    css("a[rel='ec:datamanagers']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form.hal-form[data-name=default]")))
    assert browser.current_url == live.base + "/datamanager/"
    assert "0 shown of 0" in css("nav.paging").text
    css("form[data-name=default] input[name=title]").send_keys("Field photos")
    steps.shot("space-form")
    css("form[data-name=default] button[type=submit]").click()
    assert result_status("default") == "201"
    steps.shot("space-created")

    # 3. Follow the Location to the space, then its ec:assets link.
    space_url = css("form[data-name=default] .result a.location").get_attribute("href")
    css("form[data-name=default] .result a.location").click()
    wait.until(EC.url_to_be(space_url))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "a[rel='ec:assets']")))
    assert "Field photos" in css("section.resource table.props").text
    steps.shot("space")
    css("a[rel='ec:assets']").click()
    wait.until(EC.url_to_be(space_url + "/assets/"))
    wait.until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "form.hal-form[data-name=default][data-content-type='multipart/form-data']")
        )
    )

    # 4. Upload two real PNGs through the multipart form: one file input taking several files.
    picker = css("form[data-name=default] input[name=file]")
    assert picker.get_attribute("type") == "file" and picker.get_attribute("multiple") is not None
    assert "multipart/form-data" in css("form[data-name=default] h3").text
    red = write_png(tmp_path / "red-kite.png", 12, 8, "red")
    blue = write_png(tmp_path / "blue-tit.png", 4, 4, "blue")
    picker.send_keys(f"{red}\n{blue}")
    steps.shot("upload-form")
    css("form[data-name=default] button[type=submit]").click()
    assert result_status("default") == "201"
    response = css("form[data-name=default] .result pre").text
    assert '"count": 2' in response
    browser.execute_script("arguments[0].scrollIntoView()", css("form[data-name=default] .result"))
    steps.shot("uploaded")

    # 5. Reload the list through its self link: both assets are listed, typed from their bytes.
    before = css("main h1")
    css("tr.link[data-rel=self] a").click()
    wait.until(EC.staleness_of(before))
    wait.until(lambda d: len(items()) == 2)
    listed = css("section.embedded[data-rel='ec:asset']").text
    assert "red-kite.png" in listed and "blue-tit.png" in listed and "image" in listed
    assert "2 shown of 2" in css("nav.paging").text
    headers = [
        th.get_attribute("data-key")
        for th in browser.find_elements(By.CSS_SELECTOR, "table.items th[data-key]")
    ]
    assert headers == ["title", "type", "tags", "files", "created"]
    # each image asset shows a preview: its own PNG, fetched with the token, shown as a blob of image/png
    loaded = (
        "return Array.from(document.querySelectorAll('img.thumb.loaded')).map(i => [i.naturalWidth, i.src])"
    )
    wait.until(lambda d: len(d.execute_script(loaded)) == 2)
    assert sorted(w for w, _ in browser.execute_script(loaded)) == [4, 12]
    assert all(src.startswith("blob:") for _, src in browser.execute_script(loaded))
    browser.execute_script("arguments[0].scrollIntoView()", css("section.embedded[data-rel='ec:asset']"))
    steps.shot("assets-listed")

    # 5b. Sort by title through its column header (the collection's own sort=, not client-side sorting).
    css("table.items th[data-key=title] a.sort").click()
    wait.until(lambda d: "sort=title" in d.current_url)
    wait.until(
        lambda d: (
            [r.find_element(By.CSS_SELECTOR, "a.self").text for r in items()]
            == ["blue-tit.png", "red-kite.png"]
        )
    )
    css("table.items th[data-key=title] a.sort").click()
    wait.until(lambda d: "sort=-title" in d.current_url)
    wait.until(
        lambda d: (
            [r.find_element(By.CSS_SELECTOR, "a.self").text for r in items()]
            == ["red-kite.png", "blue-tit.png"]
        )
    )
    assert css("table.items th[data-key=title]").get_attribute("aria-sort") == "descending"

    # 6. Filter with the typed form: title, operator ~= (contains), kite: one asset; the form keeps both.
    from selenium.webdriver.support.ui import Select

    Select(css(".filter-row[data-field=title] select.op")).select_by_value("contains")
    css(".filter-row[data-field=title] input.value").send_keys("kite")
    css("section.grammar button[type=submit]").click()
    wait.until(lambda d: "title~=kite" in unquote(d.current_url))
    wait.until(lambda d: len(items()) == 1)
    assert "1 shown of 1" in css("nav.paging").text
    assert "red-kite.png" in items()[0].text and "blue-tit.png" not in css("section.embedded").text
    assert css(".filter-row[data-field=title] input.value").get_attribute("value") == "kite"
    assert css(".filter-row[data-field=title]").get_attribute("data-op") == "contains"
    steps.shot("assets-filtered")

    # 7. Open the asset: its file is linked and its resolution was read from the PNG.
    opener = items()[0].find_element(By.CSS_SELECTOR, "a.self")
    asset_url, before = opener.get_attribute("href"), css("main h1")
    opener.click()
    wait.until(EC.url_to_be(asset_url))
    wait.until(EC.staleness_of(before))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr.link[data-rel='ec:asset/file']")))
    assert not browser.find_elements(By.CSS_SELECTOR, "section.grammar")  # the asset, not the list
    assert "12" in css("section.resource table.props").text  # resolution width
    steps.shot("asset")
    print(f"screenshots: {steps.directory}")
    assert len(list(steps.directory.glob("*.png"))) == steps.n == 9
