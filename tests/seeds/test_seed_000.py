"""Seed 000 (CoSphere / Lakey API) replayed as its document writes it, by a client that sends no Accept.

The document (tests/seeds/documents/000_…) is parsed here: every example (``### NAME: METHOD PATH``, then
``#### STATUS (EVENT)`` with its ``Request:`` and ``Respone:`` blocks) is replayed, except the 500s
(``NOT_REPLAYED``: they record the old server's crashes, see docs/seed-fidelity.md).
``test_every_example_is_replayed_or_listed`` checks that nothing is left out.

Each request is sent as printed — method, path, headers, body — with these prerequisites, made first
because the document's own cannot work:

- its auth request uuids exist (inserted with those uuids: pending, attached or expired, as each example
  needs), and jacky@somewhere.org's password is the printed ``code`` ("some-authorization-code");
- its ``eyJ…`` Bearer tokens are not Halyard's: each is replaced by a real ADMIN token (each printed
  token claims ``"type": "ADMIN"``), except in the 401 example, which sends its own and gets 401
  COULD_NOT_FIND_AUTH_TOKEN, as printed;
- its ids of things that must exist (catalogue item 13, 17, 19, 20, 33, 35, …; accounts 28, 30, 38, …)
  are replaced by the ids of things made for the example; ids it prints as missing (69506, 9022, 58495,
  932039, …) are sent as printed.
"""

import json
import re
import uuid as uuidlib
from datetime import timedelta

import duckdb
import pytest

from app import storage
from app.extensions import db
from app.resources.accounts.models import AuthRequest
from app.timeutil import utcnow
from tests.seeds.seed_support import assert_shape, document, native, problem

DOC = document("000")
HEADING = re.compile(r"^### (\w+): (GET|POST|PUT|DELETE) (\S+)$", re.M)
EXAMPLE = re.compile(
    r"^#### (\d{3})(?: \((\w+)\))?\nRequest:\n```http\n(.*?)\n```\nRespone:\n```json\n(.*?)\n```", re.M | re.S
)


class Example:
    def __init__(self, operation, status, event, request, response):
        self.operation, self.status, self.event = operation, int(status), event
        lines = request.split("\n")
        self.method, self.path, _ = lines[0].split(" ")
        self.headers, body = {}, []
        for line in lines[1:]:
            if body or not re.match(r"^[A-Z-]+: ", line):
                body.append(line)
            else:
                name, value = line.split(": ", 1)
                self.headers[name] = value
        self.body = json.loads("\n".join(body)) if body else None
        self.response = json.loads(response)

    @property
    def id(self):
        return f"{self.operation} {self.status} {self.event or ''}".strip()


def parse(doc):
    sections = list(HEADING.finditer(doc))
    examples = []
    for i, section in enumerate(sections):
        end = sections[i + 1].start() if i + 1 < len(sections) else len(doc)
        for m in EXAMPLE.finditer(doc, section.end(), end):
            examples.append(Example(section.group(1), *m.groups()))
    return examples


EXAMPLES = parse(DOC)
# The document's 500s record the old server's crashes (Python exception texts); a crash is not a contract.
NOT_REPLAYED = {
    "BULK_READ_CATALOGUEITEMS 500 GENERIC_ERROR_OCCURRED",
    "CREATE_CATALOGUEITEM 500 GENERIC_ERROR_OCCURRED",
    "CREATE_DOWNLOADREQUEST 500 GENERIC_ERROR_OCCURRED",
    "RENDER_DOWNLOAD_REQUEST_UI_DATA 500 GENERIC_ERROR_OCCURRED",
}
REPLAYED = [e for e in EXAMPLES if e.id not in NOT_REPLAYED]


def test_every_example_is_replayed_or_listed():
    operations = {m.group(1) for m in HEADING.finditer(DOC)}
    assert len(operations) == 15 and {e.operation for e in REPLAYED} == operations
    assert len(EXAMPLES) == 37 and len(REPLAYED) == 33
    assert {e.id for e in EXAMPLES} >= NOT_REPLAYED
    assert DOC.count("Request:\n```http") == len(EXAMPLES)


SPEC = [
    {"distribution": None, "is_nullable": True, "name": "product", "size": None, "type": "STRING"},
    {"distribution": None, "is_nullable": False, "name": "price", "size": None, "type": "INTEGER"},
]


class World:
    """The prerequisites of one example: an ADMIN caller, accounts and items made on demand."""

    def __init__(self, make_account, token_for):
        self.make_account = make_account
        self.admin = make_account(type="ADMIN")
        self.headers = token_for(self.admin)
        self.ids = {}  # the document's id -> the id made for it

    def account(self, doc_id):
        self.ids[doc_id] = self.make_account().id

    def item(self, doc_id, client, **fields):
        body = {"name": f"item_{doc_id}", "executor_type": "DATABRICKS", "spec": SPEC, **fields}
        response = client.post("/catalogue/items/", json=body, headers=self.headers)
        assert response.status_code == 201, response.get_json()
        self.ids[doc_id] = response.get_json()["id"]
        return self.ids[doc_id]

    def download(self, doc_id, client, item_id, columns=("product",), filters=(), ratio=1):
        spec = {"columns": list(columns), "filters": list(filters), "randomize_ratio": ratio}
        body = {"catalogue_item_id": item_id, "spec": spec}
        response = client.post("/downloader/requests/", json=body, headers=self.headers)
        assert response.status_code == 201, response.get_json()
        self.ids[doc_id] = response.get_json()["id"]


def auth_request(request_uuid, account=None, age=timedelta(0)):
    db.session.add(
        AuthRequest(
            uuid=request_uuid,
            account_id=account.id if account else None,
            attached_at=utcnow() if account else None,
            created=utcnow() - age,
        )
    )
    db.session.commit()


def bound_item(world, client, doc_id, rows=500):
    """A LOCAL item over a real product table (the estimate then counts the data)."""
    from app.resources.datasources.models import DataSource, Project

    path = str(world.tmp / "products.parquet")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'product ' || range AS product, range % 100 AS price FROM range({rows})) "
        f"TO '{path}' (FORMAT parquet)"
    )
    con.close()
    with open(path, "rb") as fh:
        stored = storage.save(fh)
    project = Project(title="p", owner_id=world.admin.id)
    source = DataSource(
        project=project,
        name="products",
        type="file",
        status="ready",
        table_key=stored.key,
        columns=[{"name": "product", "type": "VARCHAR"}, {"name": "price", "type": "BIGINT"}],
        items=rows,
        fields=2,
    )
    db.session.add_all([project, source])
    db.session.commit()
    world.item(doc_id, client, executor_type="LOCAL", datasource_id=source.id)


def prepare(example, world, client):
    """Make what the example needs; return {document id: id made} for its path and body."""
    op, status = example.operation, example.status
    if op == "ATTACH_ACCOUNT_TO_AUTH_REQUEST" and status == 200:
        world.make_account(email="jacky@somewhere.org", password="some-authorization-code")
        auth_request("2fbb0015-4669-11e9-b05d-0028f8484bd5")
    elif op == "CREATE_AUTH_TOKEN" and status == 201:
        auth_request("2fbb0017-4669-11e9-b05d-0028f8484bd5", account=world.make_account())
    elif op == "CREATE_AUTH_TOKEN" and status == 400:
        auth_request(
            "f5e7e000-5074-11e4-b2e7-02426ec57dd1", account=world.make_account(), age=timedelta(days=2)
        )
    elif (
        op in ("CREATE_CATALOGUEITEM", "UPDATE_CATALOGUEITEM")
        and example.body.get("maintained_by_id") != 932039
    ):
        world.account(example.body["maintained_by_id"])
    if op in ("DELETE_CATALOGUEITEM", "READ_CATALOGUEITEM", "UPDATE_CATALOGUEITEM") and status != 404:
        item_id = int(example.path.rsplit("/", 1)[1])
        shown = example.response if op == "READ_CATALOGUEITEM" else {}
        world.item(item_id, client, **{k: shown[k] for k in ("name", "executor_type", "spec") if k in shown})
        if status == 400 and op == "DELETE_CATALOGUEITEM":
            world.download(-1, client, world.ids[item_id])  # a request that is not cancelled
    if op == "BULK_READ_CATALOGUEITEMS" and status == 200:
        for item in example.response["items"]:
            world.item(
                item["name"],
                client,
                name=item["name"],
                executor_type=item["executor_type"],
                spec=item["spec"],
            )
    if op in ("CREATE_DOWNLOADREQUEST", "RENDER_DOWNLOAD_REQUEST_UI_DATA") and status in (200, 201):
        world.item(example.body["catalogue_item_id"], client)
    if op == "ESTIMATE_SIZE_OF_DOWNLOAD_REQUEST":
        bound_item(world, client, example.body["catalogue_item_id"])
    if op in ("READ_DOWNLOADREQUEST", "DELETE_DOWNLOADREQUEST") and status == 200:
        world.download(int(example.path.rsplit("/", 1)[1]), client, world.item("x", client))
    if op == "BULK_READ_DOWNLOADREQUESTS":
        item_id = world.item("x", client)
        for n, request in enumerate(example.response["requests"]):
            spec = request["spec"]
            world.download(
                -n - 10, client, item_id, spec["columns"], spec["filters"], spec["randomize_ratio"]
            )
    return world.ids


def substitute(example, ids):
    path = example.path
    tail = path.rsplit("/", 1)[1]
    if tail.isdigit() and int(tail) in ids:
        path = path[: -len(tail)] + str(ids[int(tail)])
    body = example.body
    if isinstance(body, dict):
        body = dict(body)
        for key in ("catalogue_item_id", "maintained_by_id"):
            if isinstance(body.get(key), int) and body[key] in ids:
                body[key] = ids[body[key]]
    return path, body


@pytest.fixture
def world(make_account, token_for, tmp_path):
    w = World(make_account, token_for)
    w.tmp = tmp_path
    return w


@pytest.mark.parametrize("example", REPLAYED, ids=lambda e: e.id)
def test_replay(seed_client, world, example):
    ids = prepare(example, world, seed_client)
    path, body = substitute(example, ids)
    headers = dict(example.headers)
    if "AUTHORIZATION" in headers and example.status != 401:
        headers["AUTHORIZATION"] = world.headers["Authorization"]  # the printed eyJ… token is not Halyard's
    kwargs = {"data": json.dumps(body)} if body is not None else {}
    response = seed_client.open(path, method=example.method, headers=headers, **kwargs)
    documented = example.response
    if example.operation == "RENDER_AUTH_REQUEST_AUTHENTICATE_UI":  # the document prints the HTML as a string
        assert response.status_code == 200 and response.mimetype == "text/html"
        assert "<title>" in response.get_data(as_text=True)
        return
    if example.status >= 400:
        body = problem(response, example.status, example.event)
        # user_id: the document prints "anonymous" (or null) even for its signed-in callers; Halyard names
        # the caller (its id), "anonymous" when there is none (docs/seed-fidelity.md, not deviations)
        assert_shape(body, {k: v for k, v in documented.items() if k not in ("errors", "user_id")})
        assert body["user_id"] in ("anonymous", world.admin.id)
        if isinstance(documented.get("errors"), dict):
            assert set(body["errors"]) == set(documented["errors"]), body["errors"]
        return
    got = native(response, example.status)
    assert_shape(got, loosen(documented))
    assert got.get("@event") == documented["@event"] and got.get("@type") == documented["@type"]
    check_values(example, got, world)


def loosen(documented):
    """The documented body with each catalogue item's column ``spec`` as "any value": its columns differ
    from one another (a size here, null there), and ``check_values`` compares the spec exactly."""
    if isinstance(documented, dict):
        return {k: None if k == "spec" and isinstance(v, list) else loosen(v) for k, v in documented.items()}
    if isinstance(documented, list):
        return [loosen(v) for v in documented]
    return documented


def check_values(example, got, world):
    """Beyond the shape: the values the example's request determines."""
    documented, op = example.response, example.operation
    if op == "CREATE_AUTH_REQUEST":
        request_uuid = got["request_uuid"]
        assert uuidlib.UUID(request_uuid).version == 4
        assert got["authenticate_ui_uri"] == f"/accounts/auth_requests/{request_uuid}/authenticate/ui/"
    elif op == "BULK_READ_CATALOGUEITEMS":
        assert sorted(i["name"] for i in got["items"]) == sorted(i["name"] for i in documented["items"])
        for item in got["items"]:
            assert item["spec"] == next(d["spec"] for d in documented["items"] if d["name"] == item["name"])
    elif op in ("CREATE_CATALOGUEITEM", "UPDATE_CATALOGUEITEM"):
        body = example.body
        assert (got["name"], got["executor_type"], got["spec"]) == (
            body["name"],
            body["executor_type"],
            body["spec"],
        )
        assert got["maintained_by"]["id"] == world.ids[body["maintained_by_id"]]
        assert got["updated_by"]["email"] == world.admin.email
    elif op == "READ_CATALOGUEITEM":
        assert (got["name"], got["spec"]) == (documented["name"], documented["spec"])
    elif op == "BULK_READ_DOWNLOADREQUESTS":
        assert [r["spec"] for r in got["requests"]] == [r["spec"] for r in reversed(documented["requests"])]
    elif op == "CREATE_DOWNLOADREQUEST":
        assert got["spec"] == example.body["spec"] and got["created_by"]["email"] == world.admin.email
    elif op == "ESTIMATE_SIZE_OF_DOWNLOAD_REQUEST":
        assert isinstance(got["estimated_size"], int) and got["estimated_size"] > 0
    elif op == "RENDER_DOWNLOAD_REQUEST_UI_DATA":
        assert [c["name"] for c in got["columns_operators"]] == ["product", "price"]
        assert got["columns_operators"][1]["operators"] == documented["columns_operators"][1]["operators"]


def test_the_documents_own_token_is_401_everywhere(seed_client):
    token = next(e for e in EXAMPLES if e.status == 401).headers["AUTHORIZATION"]
    for path in ("/catalogue/items/?query=IoT", "/downloader/requests/", "/catalogue/items/17"):
        problem(seed_client.get(path, headers={"AUTHORIZATION": token}), 401, "COULD_NOT_FIND_AUTH_TOKEN")


def test_lists_are_whole_and_hal_keeps_its_pages(seed_client, world):
    for n in range(12):
        world.item(n, seed_client)
    body = native(seed_client.get("/catalogue/items/?query=", headers=world.headers), 200)
    assert list(body)[:3] == ["@event", "@type", "items"] and len(body["items"]) == 12
    paged = native(seed_client.get("/catalogue/items/?query=&size=5", headers=world.headers), 200)
    assert len(paged["items"]) == 5
    hal = seed_client.get(
        "/catalogue/items/?query=", headers={**world.headers, "Accept": "application/hal+json"}
    )
    assert hal.mimetype == "application/hal+json" and hal.get_json()["total"] == 12
    assert len(hal.get_json()["_embedded"]["ec:catalogue-item"]) == 10


def test_past_the_cap_the_envelope_says_so_with_a_link(app, seed_client, world):
    for n in range(4):
        world.item(n, seed_client)
    app.config["HALYARD_PAGE_MAX_SIZE"] = 3
    response = seed_client.get("/catalogue/items/?query=", headers=world.headers)
    assert len(native(response, 200)["items"]) == 3 and 'rel="next"' in response.headers["Link"]
    whole = seed_client.get("/catalogue/items/?query=&size=3&page=2", headers=world.headers)
    assert len(native(whole, 200)["items"]) == 1 and "Link" not in whole.headers
