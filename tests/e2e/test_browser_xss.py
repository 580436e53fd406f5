"""The stored-XSS attacks of issue 13, repeated in headless Chromium: no request leaves the admin's page.

A user who holds only ``editAssets`` uploads ``report.html`` (an ``onerror`` handler and a script that
send ``sessionStorage['halyard.auth']`` to a listener) and ``chart.svg`` (the same in an SVG); a data
source of type ``api`` fetches the same HTML from a 127.0.0.1 server. An ADMIN signed in to the
browsable UI (token in sessionStorage) opens the asset, clicks the file links, opens the file URLs
directly (the browser sending the admin's credentials), and does the same for the source's file.

A real HTTP listener on 127.0.0.1 records every request. First a control page from the listener's own
origin runs the same payload, so the test knows the payload fires in this browser; after the attacks
the browser itself requests a canary from the listener, a barrier after which the listener must have
seen the canary and nothing else. The page never gets ``window.pwned``, and the token stays put.
"""

import os
import sys
import threading
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from test_browser import WAIT, Steps, browser, sign_in_with_token  # noqa: E402,F401  (Chromium, screenshots)

from tests.file_routes import assert_inert  # noqa: E402
from tests.hostile_files import api_server, files, html  # noqa: E402
from tests.route_server import serve_routes  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: the live fixture registers widgets


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1"}


class Listener:
    """Records the path of every request a 127.0.0.1 server gets; the payload's page is at /control.html."""

    def __init__(self):
        self.paths, self.changed, self.routes = [], threading.Condition(), {}

    def record(self, path):
        with self.changed:
            self.paths.append(path)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=WAIT):
        """Block until ``predicate(paths)`` holds (or fail after ``timeout`` seconds)."""
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(list(self.paths)), timeout), self.paths
            return list(self.paths)

    def reset(self):
        with self.changed:
            self.paths.clear()


@pytest.fixture
def listener():
    spy = Listener()
    with serve_routes(spy.routes, on_request=spy.record) as base:
        spy.base = base
        spy.routes["/control.html"] = (200, "text/html", html(base))
        yield spy


def api(headers):
    session = requests.Session()
    session.headers.update({"Accept": "application/hal+json", **headers})  # HAL, not a seed-native body
    return session


def hostile_uploads(live, make_account, token_for, run_jobs, listener):
    """The attacker's side: a space where they hold only editAssets, hostile assets, two api sources.

    Returns ({label: asset URL}, {label: source URL})."""
    owner, attacker_account = api(token_for(make_account())), make_account()
    attacker = api(token_for(attacker_account))
    space = owner.post(live.base + "/datamanager/", json={"title": "Team", "description": "shared"}).json()
    grant = owner.post(
        space["_links"]["ec:datamanager/members"]["href"],
        json={"accountID": attacker_account.id, "rights": ["editAssets"]},
    )
    assert grant.status_code == 201, grant.text
    hostile = files(listener.base)
    uploaded = {}
    for label in ("html", "svg", "polyglot"):
        name, content = hostile[label]
        r = attacker.post(space["_links"]["ec:assets"]["href"], files={"file": (name, content, "image/png")})
        assert r.status_code == 201, r.text
        uploaded[label] = r.headers["Location"]
    project = attacker.post(live.base + "/api/v1/projects/", json={"title": "p", "description": ""}).json()
    sources = {}
    with api_server(listener.base) as upstream:
        for label in ("html", "html-claiming-text"):
            r = attacker.post(
                live.base + "/api/v1/datasources",
                data={
                    "project": str(project["id"]),
                    "name": label,
                    "type": "api",
                    "url": f"{upstream}/{label}",
                },
            )
            assert r.status_code == 201, r.text
            sources[label] = r.json()["_links"]["self"]["href"]
        run_jobs()
    for href in sources.values():
        assert attacker.get(href).json()["status"] == "ready", href
    return uploaded, sources


def test_hostile_html_and_svg_never_run_for_an_admin(
    live, browser, listener, make_account, token_for, run_jobs, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    steps = Steps(browser, tmp_path / "screenshots")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    css = lambda selector: browser.find_element(By.CSS_SELECTOR, selector)  # noqa: E731
    assets, sources = hostile_uploads(live, make_account, token_for, run_jobs, listener)

    # 0. Control: the payload does fire in this browser when a page of another origin runs it.
    browser.get(listener.base + "/control.html")
    listener.wait_for(lambda paths: any(p.startswith("/?t=") for p in paths))
    assert browser.execute_script("return window.pwned") == 1
    listener.reset()

    # 1. The admin signs in to the browsable UI: the token is in this tab's sessionStorage.
    sign_in_with_token(browser, live)
    token = browser.execute_script("return sessionStorage.getItem('halyard.auth')")
    assert token == f"Bearer {live.token}"

    def untouched(what):
        state = browser.execute_script(
            "return [typeof window.pwned, sessionStorage.getItem('halyard.auth'), document.title]"
        )
        assert state[:2] == ["undefined", token], (what, state)

    def saved(content, before):
        """Wait until a new complete download holds ``content`` (Chromium names it by a GUID here)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            new = [
                p for p in downloads.iterdir() if p.name not in before and not p.name.endswith(".crdownload")
            ]
            if any(p.read_bytes() == content for p in new):
                return
            time.sleep(0.1)
        raise AssertionError(f"nothing downloaded: {sorted(p.name for p in downloads.iterdir())}")

    def open_and_click(page_url, link_selector, content, shot):
        browser.get(page_url)  # anonymous first, then the script fetches it again with the token
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, link_selector)))
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".auth .who"), live.email))
        heading, before = css("main h1").text, {p.name for p in downloads.iterdir()}
        css(link_selector).click()
        saved(content, before)  # the click became a download: the file was never put into the page
        assert css("main h1").text == heading and browser.current_url == page_url
        untouched(f"clicked {shot}")
        steps.shot(shot)

    # 2. The admin opens each hostile asset and clicks its file link (the browsable UI fetches it).
    hostile = files(listener.base)
    for label in ("html", "svg"):
        open_and_click(assets[label], "a[rel='ec:asset/file']", hostile[label][1], f"asset-{label}")
    open_and_click(sources["html"], "a[rel='ec:datasource/file']", html(listener.base), "api-source")
    # The HTML an api server called text/plain is inline: the UI shows it as text, never as markup.
    browser.get(sources["html-claiming-text"])
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".auth .who"), live.email))
    css("a[rel='ec:datasource/file']").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main p.status"), "200 · text/plain"))
    assert css("pre#raw").text.startswith("<!doctype html>") and "onerror=" in css("pre#raw").text
    assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script")
    untouched("text shown")
    steps.shot("api-source-as-text")

    # 3. The file URLs opened directly, the browser sending the admin's credentials itself. An attachment
    # is saved and the page stays; an inline file (the PNG polyglot, the HTML an api server called
    # text/plain) is shown in a sandboxed document: no script, and an opaque origin without storage.
    urls = [requests.get(assets[label], headers=live.auth).json()["files"][0]["url"] for label in assets]
    urls += [requests.get(href, headers=live.auth).json()["file"] for href in sources.values()]
    how = {url: assert_inert(requests.get(url, headers=live.auth).headers, url) for url in urls}
    assert sorted(how.values()) == ["attachment"] * 3 + ["inline"] * 2, how
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": live.auth})
    for url in sorted(urls, key=lambda u: how[u]):  # attachments first, while the admin's page is open
        page = browser.current_url
        browser.get(url)
        assert browser.execute_script("return typeof window.pwned") == "undefined", url
        storage = browser.execute_script(
            "try { return sessionStorage.getItem('halyard.auth'); } catch (e) { return 'opaque origin'; }"
        )
        if how[url] == "attachment":
            assert browser.current_url == page and storage == token, url
        else:
            assert browser.current_url == url and storage == "opaque origin", url
            steps.shot("opened-inline")
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})

    # 4. Barrier: the browser asks the listener for a canary; by then nothing else may have arrived.
    browser.get(listener.base + "/canary")
    paths = listener.wait_for(lambda paths: "/canary" in paths)
    assert [p for p in paths if p != "/favicon.ico"] == ["/canary"], paths  # the icon: the canary page's own
    print(f"screenshots: {steps.directory}")
