"""Every route that serves a stored file keeps the file inert in Halyard's origin (docs/security.md).

The routes come from the URL map: a view whose code reaches ``app.storage.send`` serves a stored file,
and no view may reach ``send_file``/``send_from_directory`` any other way. Each route is fed hostile
files through the real API (asset uploads, a file source, an ``api`` source fetching from a 127.0.0.1
server, a step job, downloads), and every answer to GET, a Range GET and HEAD must carry the sandboxing
CSP and nosniff, and be an attachment unless its type is on the inline list. A route added without a
case here fails ``test_every_file_route_has_a_hostile_case``.
"""

import flask
import pytest

from app import storage
from tests.file_routes import INLINE, assert_inert, file_routes
from tests.hostile_files import api_bodies, api_server, files, html
from tests.resources.datamanager_support import create_space, upload

LISTENER = "http://127.0.0.1:9"  # never contacted here: tests/e2e/test_browser_xss.py listens for real
HOSTILE_CSV = (
    b'name,html\nann,"<img src=x onerror=""window.pwned=1"">"\n'
    b'bob,"<svg onload=window.pwned=1><script>window.pwned=1</script></svg>"\n'
)


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1", "HALYARD_SANDBOX_WALL_SECONDS": 20}


# --- what every answer must carry -------------------------------------------------------------------


def check_route(client, headers, cases):
    """GET, Range GET and HEAD of every (label, url); returns {label: (mimetype, disposition)}."""
    seen = {}
    for label, url in cases:
        whole = client.get(url, headers=headers)
        assert whole.status_code == 200, (label, whole.status_code, whole.data[:200])
        disposition = assert_inert(whole.headers, f"GET {label}")
        etag = whole.headers["ETag"]
        part = client.get(url, headers={**headers, "Range": "bytes=0-3"})
        assert part.status_code == 206 and part.data == whole.data[:4], label
        assert assert_inert(part.headers, f"Range {label}") == disposition
        assert assert_inert(client.head(url, headers=headers).headers, f"HEAD {label}") == disposition
        assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 304
        seen[label] = (whole.mimetype, disposition)
    return seen


# --- the hostile cases of each route -------------------------------------------------------------------


@pytest.fixture
def hostile_server():
    with api_server(LISTENER) as base:
        yield base


class World:
    """A project, an owner and the hostile data the routes serve, made through the API."""

    def __init__(self, client, run_jobs, headers, server):
        self.client, self.run_jobs, self.headers, self.server = client, run_jobs, headers, server
        project = client.post(
            "/api/v1/projects", json={"title": "hostile", "description": ""}, headers=headers
        )
        assert project.status_code == 201, project.get_json()
        self.project, self.made = project.get_json()["id"], 0

    def source(self, **fields):
        self.made += 1
        data = {"project": str(self.project), "name": f"hostile-{self.made}", **fields}
        r = self.client.post(
            "/api/v1/datasources", data=data, headers=self.headers, content_type="multipart/form-data"
        )
        assert r.status_code == 201, r.get_json()["errors"]
        self.run_jobs()
        doc = self.client.get(r.get_json()["_links"]["self"]["href"], headers=self.headers).get_json()
        assert doc["status"] == "ready", doc
        return doc

    def csv_source(self):
        import io

        return self.source(type="file", file=(io.BytesIO(HOSTILE_CSV), "people.csv"))

    def step_run(self):
        source = self.csv_source()
        r = self.client.post(
            f"/api/v1/datasources/{source['id']}/job",
            headers=self.headers,
            json={"steps": [{"key": "builtin:fill_nulls", "exec_order": 1, "params": {"value": "-"}}]},
        )
        assert r.status_code == 201, r.get_json()
        self.run_jobs()
        run = self.client.get(r.headers["Location"], headers=self.headers).get_json()
        assert run["status"] == "finished", run
        return source, run


def asset_files(world):
    space = create_space(world.client, world.headers)
    cases = []
    for label, (name, content) in files(LISTENER).items():
        # the client claims image/png for every one: the server must not believe it
        r = upload(
            world.client, space["_links"]["ec:assets"]["href"], world.headers, (content, name, "image/png")
        )
        asset = world.client.get(r.headers["Location"], headers=world.headers).get_json()
        cases.append((label, asset["files"][0]["url"]))
    return cases


def source_files(world):
    cases = [("csv-upload", world.csv_source()["file"])]
    for label, _, _ in api_bodies(LISTENER):
        cases.append((f"api-{label}", world.source(type="api", url=f"{world.server}/{label}")["file"]))
    return cases


def source_derived(kind):
    def cases(world):
        source = world.csv_source()
        return [(kind, f"/api/v1/datasources/{source['id']}/{kind}")]

    return cases


def run_files(kind):
    def cases(world):
        source, run = world.step_run()
        return [(kind, f"/api/v1/datasources/{source['id']}/jobs/{run['id']}/{kind}")]

    return cases


def downloads(world):
    source = world.csv_source()
    spec = [
        {"name": n, "type": "STRING", "is_nullable": False, "size": 2, "distribution": None}
        for n in ("name", "html")
    ]
    item = world.client.post(
        "/catalogue/items/",
        headers=world.headers,
        json={"name": "hostile", "executor_type": "LOCAL", "spec": spec, "datasource_id": source["id"]},
    )
    assert item.status_code == 201, item.get_json()
    cases = []
    for fmt in ("csv", "parquet"):
        body = {
            "catalogue_item_id": item.get_json()["id"],
            "format": fmt,
            "spec": {"columns": ["name", "html"], "filters": [], "randomize_ratio": 1.0},
        }
        r = world.client.post("/downloader/requests/", json=body, headers=world.headers)
        assert r.status_code == 201, r.get_json()
        world.run_jobs()
        cases.append((fmt, f"/downloader/requests/{r.get_json()['id']}/file"))
    return cases


CASES = {
    "datamanager.file": asset_files,
    "datasources.source_file": source_files,
    "datasources.source_preview": source_derived("preview"),
    "datasources.source_table": source_derived("table"),
    "datasources.run_result": run_files("result"),
    "datasources.run_preview": run_files("preview"),
    "datasources.run_table": run_files("table"),
    "downloader.file": downloads,
}


def test_every_file_route_has_a_hostile_case(app):
    routes = file_routes(app)
    assert set(routes) == set(CASES), f"file routes without a case here: {set(routes) - set(CASES)}"


def _send_through_a_helper(key):
    return storage.send(key, mimetype="text/html")


@pytest.mark.fresh_app
def test_the_route_finder_sees_helpers_and_raw_senders(app):
    """A new route is found through a helper function; one calling send_file itself is refused."""
    bp = flask.Blueprint("probe_files", __name__)
    bp.add_url_rule("/probe/<key>", "helper", lambda key: _send_through_a_helper(key))
    app.register_blueprint(bp)
    assert file_routes(app)["probe_files.helper"] == "/probe/<key>"
    raw = flask.Blueprint("probe_raw", __name__)
    raw.add_url_rule("/raw/<key>", "raw", lambda key: flask.send_file(storage.store().location(key)))
    app.register_blueprint(raw)
    with pytest.raises(AssertionError, match="probe_raw.raw"):
        file_routes(app)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_hostile_files_are_inert_on_every_route(
    app, client, run_jobs, make_account, token_for, hostile_server, endpoint
):
    headers = token_for(make_account(type="ADMIN"))
    seen = check_route(client, headers, CASES[endpoint](World(client, run_jobs, headers, hostile_server)))
    check_seen(endpoint, seen)


def check_seen(endpoint, seen):
    """What each hostile case was served as: ``{label: (mimetype, disposition)}`` (every way of serving)."""
    assert seen
    never_inline = {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml"}
    assert not [label for label, (mime, how) in seen.items() if mime in never_inline and how == "inline"]
    if endpoint == "datamanager.file":  # libmagic types each by its bytes, not its name or the client
        assert seen["html"] == seen["html-as-png"] == seen["html-as-txt"] == ("text/html", "attachment")
        assert seen["svg"] == ("image/svg+xml", "attachment") and seen["polyglot"] == ("image/png", "inline")
    if endpoint == "datasources.source_file":  # an api source keeps what its server claimed, made harmless
        assert seen["api-html"] == ("text/html", "attachment") and seen["api-svg"][1] == "attachment"
        assert seen["api-html-claiming-png"] == ("image/png", "inline")
        assert seen["api-html-claiming-text"] == ("text/plain", "inline")  # utf-7 claim replaced by utf-8


@pytest.mark.parametrize(
    "declared, served, inline",
    [
        ("text/html", "text/html", False),
        ("TEXT/HTML; charset=utf-7", "text/html", False),
        ("image/svg+xml", "image/svg+xml", False),
        ("application/xhtml+xml", "application/xhtml+xml", False),
        ("text/xml", "text/xml", False),
        ("application/javascript", "application/javascript", False),
        ("multipart/x-mixed-replace; boundary=x", "multipart/x-mixed-replace", False),
        ("text/plain; charset=utf-7", "text/plain; charset=utf-8", True),
        ("Text/CSV", "text/csv; charset=utf-8", True),
        ('image/png; x="<script>"', "image/png", True),
        ("application/pdf", "application/pdf", True),
        ("application/json", "application/json", True),
        ("", "application/octet-stream", False),
        (None, "application/octet-stream", False),
        ("html", "application/octet-stream", False),
        ("text/", "application/octet-stream", False),
        ("a/b/c", "application/octet-stream", False),
        ("image/png<script>", "application/octet-stream", False),
        ("text/html\u2028x", "application/octet-stream", False),
    ],
)
def test_serving_type_is_decided_by_the_inline_list(declared, served, inline):
    assert storage.serving_type(declared) == (served, inline)
    assert storage.INLINE_TYPES == INLINE


def test_the_payloads_are_live():
    """The hostile files really are pages with script (so the tests above test something)."""
    body = html(LISTENER)
    assert b"<script>" in body and b"onerror=" in body and b"sessionStorage" in body
