"""OpenAPI of the datasources (projects), catalogue, downloader and scheduler domains.

Declared: every operation has its request body when it takes one (multipart with binary parts for uploads),
a schema of its own for every success body, and the statuses it can answer. Truthful: real responses of
each domain — successes and errors, files and ranges, jobs run by a real RQ worker — are checked against the
operation's documented statuses, media types and JSON Schemas.
"""

import io
import re
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from app.extensions import db
from app.openapi.generate import query_parameters
from app.timeutil import utcnow

BLUEPRINTS = ("datasources", "catalogue", "downloader", "scheduler")
NO_BODY = {"catalogue.compute_spec", "scheduler.fire_metrics"}
MULTIPART = {
    "datasources.create_source": "file",
    "datasources.update_source": "file",
    "datasources.script_upload": "script",
}
# statuses beyond the generic ones (GET 200/304, 401/403/404/406/429, 400/413/415 with a body, 412/428 writes)
EXTRA = {
    ("datasources.start_run", "POST"): {"201", "409"},
    ("datasources.create_source", "POST"): {"201", "403", "413", "415"},
    ("datasources.script_upload", "POST"): {"201", "413", "415"},
    ("datasources.source_file", "GET"): {"206", "416"},
    ("datasources.run_result", "GET"): {"206", "416"},
    ("downloader.file", "GET"): {"206", "416"},
    ("downloader.create", "POST"): {"200", "201"},
    ("downloader.delete", "DELETE"): {"200", "412", "428"},
    ("catalogue.delete", "DELETE"): {"200", "400", "412", "428"},
    ("catalogue.compute_spec", "POST"): {"200", "409", "412", "428"},
    ("scheduler.requeue", "POST"): {"201"},
    ("scheduler.fire_metrics", "POST"): {"200"},
}
GENERIC = [
    {"$ref": "#/components/schemas/HalResource"},
    {"$ref": "#/components/schemas/CollectionPage"},
    {
        "anyOf": [
            {"$ref": "#/components/schemas/CollectionPage"},
            {"$ref": "#/components/schemas/HalResource"},
        ]
    },
    {"type": "object"},
]
JSON_MEDIA = ("application/hal+json", "application/json", "application/problem+json")
CSV = b"name,age,city\nAnn,31,Oslo\nBob,,Rome\nCy,27,Oslo\nDee,45,\n"
ENDPOINT = "http://127.0.0.1:9/hook"


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1", "HALYARD_SANDBOX_WALL_SECONDS": 10}


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def operations(app, spec):
    """(endpoint, METHOD, operation) of every route of the four domains."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in BLUEPRINTS:
            continue
        path = re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, spec["paths"][path][method.lower()]))
    return found


def test_every_operation_is_declared_with_its_bodies_and_statuses(app, spec):
    validate(spec)
    ops = operations(app, spec)
    per_domain = {d: sum(1 for e, _, _ in ops if e.startswith(d + ".")) for d in BLUEPRINTS}
    print("operations per domain:", per_domain)
    assert per_domain["datasources"] >= 24 and per_domain["catalogue"] >= 6
    assert per_domain["downloader"] >= 7 and per_domain["scheduler"] >= 13
    schemas = spec["components"]["schemas"]
    for endpoint, method, op in ops:
        where = (endpoint, method)
        # each operation is tagged with its blueprint and says what it does (a summary; a description too
        # where the view's docstring has more than one line)
        assert op["tags"] == [endpoint.split(".")[0]], where
        assert op["summary"].strip(), where
        if method in ("POST", "PUT", "PATCH"):
            if endpoint in NO_BODY:
                assert "requestBody" not in op and "415" not in op["responses"], where
            else:
                ((media, content),) = op["requestBody"]["content"].items()
                # the requeue's body may be left out (every failed task is requeued): said, not required
                assert op["requestBody"]["required"] is (endpoint != "scheduler.requeue"), where
                assert content["schema"] not in GENERIC, where
                assert media == ("multipart/form-data" if endpoint in MULTIPART else "application/json"), (
                    where
                )
                if endpoint in MULTIPART:
                    part = schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]["properties"][
                        MULTIPART[endpoint]
                    ]
                    assert (part["type"], part["format"]) == ("string", "binary"), where
        successes = [s for s in op["responses"] if s.startswith("2")]
        assert successes, where
        for status in successes:
            content = op["responses"][status].get("content")
            if status == "204":
                assert content is None, where
                continue
            json_schemas = [c["schema"] for m, c in content.items() if m in JSON_MEDIA]
            assert all(s not in GENERIC for s in json_schemas), (where, status)
        assert EXTRA.get(where, set()) <= set(op["responses"]), (where, sorted(op["responses"]))
        assert {"401", "404", "406"} <= set(op["responses"]), where
    required = {p["name"]: p for p in spec["paths"]["/catalogue/items/"]["get"]["parameters"]}["query"]
    assert required["required"] is True and required["in"] == "query"
    page = spec["paths"]["/api/v1/projects/"]["get"]["responses"]["200"]["content"]["application/hal+json"]
    assert page["schema"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/ProjectsPage"},
            {"$ref": "#/components/schemas/ProjectViewResource"},
        ]
    }
    # the page's items are the item's own component; a seed 000 page has its @event/@type too
    own = schemas["ProjectsPage"]["allOf"][1]["properties"]["_embedded"]["properties"]["ec:project"]
    assert own == {"type": "array", "items": {"$ref": "#/components/schemas/ProjectViewResource"}}
    catalogue = schemas["CatalogueItemsPage"]["allOf"][1]
    assert catalogue["required"] == ["@event", "@type"]
    assert catalogue["properties"]["@event"]["enum"] == ["CATALOGUEITEMS_BULK_READ"]
    content = spec["paths"]["/catalogue/items/"]["get"]["responses"]["200"]["content"]
    single = content["application/hal+json"]
    assert single["schema"]["anyOf"][1] == {"$ref": "#/components/schemas/CatalogueItemReadResource"}
    # application/json is seed 000's own body on its paths (docs/seed-native.md)
    assert content["application/json"]["schema"]["anyOf"][1] == {
        "$ref": "#/components/schemas/CatalogueItemReadNative"
    }
    downloads = query_parameters(spec["paths"]["/downloader/requests/"]["get"])
    names = [p["name"] for p in spec["paths"]["/downloader/requests/"]["get"]["parameters"]]
    assert "format" not in names and {"format", "format!"} <= set(downloads)  # format: in the grammar
    # one `format`: the file-format filter or the representation toggle, by value
    own = downloads["format"]
    assert own["schema"] == {
        "anyOf": [
            {"type": "string", "enum": ["csv", "parquet"]},
            {"type": "string", "enum": ["json", "hal", "hal-forms", "html"]},
        ]
    }
    assert "toggle" in own["description"]
    jobs = query_parameters(spec["paths"]["/jobs/"]["get"])["format"]
    assert jobs["schema"] == {"type": "string", "enum": ["json", "hal", "hal-forms", "html"]}
    upload = spec["paths"]["/api/v1/datasources/{source_id}/file"]["get"]
    assert {"name": "Range", "in": "header"}.items() <= upload["parameters"][-1].items()


class Conformance:
    """Checks a test-client response against the documented operation; remembers what it checked."""

    def __init__(self, spec):
        self.spec, self.seen = spec, set()

    def __call__(self, response, path, method=None):
        method = (method or response.request.method).lower()
        op = self.spec["paths"][path][method]
        status = str(response.status_code)
        assert status in op["responses"], (method, path, status, response.get_data(as_text=True)[:500])
        self.seen.add((method.upper(), path, status))
        content = op["responses"][status].get("content")
        if response.status_code in (204, 304):
            assert not response.get_data() and not content
            return response
        assert response.mimetype in content, (method, path, status, response.mimetype)
        if response.mimetype in JSON_MEDIA:
            schema = {"components": self.spec["components"], **content[response.mimetype]["schema"]}
            errors = sorted(
                Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(response.get_json()),
                key=str,
            )
            assert not errors, (
                method,
                path,
                status,
                [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]],
            )
        return response


@pytest.fixture
def conform(spec):
    return Conformance(spec)


@pytest.fixture
def people(make_account, token_for):
    admin, owner, viewer = make_account(type="ADMIN"), make_account(), make_account()
    return {
        "admin": token_for(admin),
        "owner": token_for(owner),
        "viewer": token_for(viewer),
        "viewer_id": viewer.id,
    }


def upload(client, headers, project_id, content=CSV, name="people"):
    data = {
        "name": name,
        "project": str(project_id),
        "type": "file",
        "file": (io.BytesIO(content), "people.csv"),
    }
    return client.post("/api/v1/datasources", data=data, headers=headers, content_type="multipart/form-data")


def test_datasources_answers_match_the_description(client, conform, people, run_jobs):
    owner, viewer = people["owner"], people["viewer"]
    members = [{"account": people["viewer_id"], "role": "viewer"}]
    P, S = "/api/v1/projects/{project_id}", "/api/v1/datasources/{source_id}"
    project = conform(
        client.post("/api/v1/projects/", json={"title": "P", "members": members}, headers=owner),
        "/api/v1/projects/",
    ).get_json()
    pid = project["id"]
    conform(client.post("/api/v1/projects/", json={"title": ""}, headers=owner), "/api/v1/projects/")
    conform(client.post("/api/v1/projects/", data="x", headers=owner), "/api/v1/projects/")
    conform(client.get("/api/v1/projects/", headers=owner), "/api/v1/projects/")
    conform(client.get(f"/api/v1/projects/?id={pid}", headers=viewer), "/api/v1/projects/")
    conform(client.get("/api/v1/projects/?sort=nope", headers=owner), "/api/v1/projects/")
    conform(client.get(f"/api/v1/projects/{pid}", headers=viewer), P)
    conform(client.put(f"/api/v1/projects/{pid}", json={"title": "Q", "members": members}, headers=owner), P)
    conform(client.put(f"/api/v1/projects/{pid}", json={"title": "Q"}, headers=viewer), P)
    conform(
        client.put(f"/api/v1/projects/{pid}", json={"title": "Q"}, headers={**owner, "If-Match": '"x"'}), P
    )

    source = conform(upload(client, owner, pid), "/api/v1/datasources").get_json()
    sid = source["id"]
    assert source["status"] == "ready"
    conform(upload(client, viewer, pid, name="other"), "/api/v1/datasources")  # viewer: 403
    conform(upload(client, owner, pid, content=b""), "/api/v1/datasources")  # no CSV: 400 naming file
    conform(
        client.post("/api/v1/datasources", data=b"x", headers={**owner, "Content-Type": "text/plain"}),
        "/api/v1/datasources",
    )
    conform(client.get("/api/v1/datasources", headers=viewer), "/api/v1/datasources")
    conform(client.get(f"/api/v1/datasources?id={sid}", headers=viewer), "/api/v1/datasources")
    conform(client.get(f"/api/v1/projects/{pid}/datasources", headers=viewer), P + "/datasources")
    conform(client.get(f"/api/v1/datasources/{sid}", headers=viewer), S)
    replaced = client.put(
        f"/api/v1/datasources/{sid}",
        data={"name": "people", "type": "file", "file": (io.BytesIO(CSV + b"Eve,50,Bern\n"), "p.csv")},
        headers=owner,
        content_type="multipart/form-data",
    )
    assert conform(replaced, S).get_json()["meta_data"]["items"] == 5
    conform(client.get(f"/api/v1/datasources/{sid}/file", headers=viewer), S + "/file")
    conform(
        client.get(f"/api/v1/datasources/{sid}/file", headers={**viewer, "Range": "bytes=0-3"}), S + "/file"
    )
    conform(
        client.get(f"/api/v1/datasources/{sid}/file", headers={**viewer, "Range": "bytes=9000-9100"}),
        S + "/file",
    )
    conform(client.get(f"/api/v1/datasources/{sid}/preview", headers=viewer), S + "/preview")
    conform(client.get(f"/api/v1/datasources/{sid}/table", headers=viewer), S + "/table")

    conform(client.get(f"/api/v1/datasources/{sid}/script", headers=viewer), S + "/script")
    conform(
        client.get(f"/api/v1/datasources/{sid}/script?key=builtin:drop_columns", headers=viewer),
        S + "/script",
    )
    conform(
        client.get(f"/api/v1/datasources/{sid}/script/builtin:fill_nulls", headers=viewer),
        S + "/script/{key}",
    )
    script = {"script": (io.BytesIO(b"def transform(rows, params):\n    return rows\n"), "noop.py")}
    conform(
        client.post(
            f"/api/v1/datasources/{sid}/script-upload",
            data=script,
            headers=owner,
            content_type="multipart/form-data",
        ),
        S + "/script-upload",
    )
    conform(
        client.post(f"/api/v1/datasources/{sid}/script-upload", json={}, headers=owner), S + "/script-upload"
    )
    conform(
        client.delete(f"/api/v1/datasources/{sid}/script/upload:noop", headers=owner), S + "/script/{key}"
    )

    steps = {"steps": [{"key": "builtin:drop_columns", "exec_order": 1, "params": {"columns": ["city"]}}]}
    conform(client.post(f"/api/v1/datasources/{sid}/job", json={"steps": []}, headers=owner), S + "/job")
    started = conform(client.post(f"/api/v1/datasources/{sid}/job", json=steps, headers=owner), S + "/job")
    rid = started.get_json()["id"]
    R = S + "/jobs/{run_id}"
    conform(client.get(f"/api/v1/datasources/{sid}/jobs", headers=viewer), S + "/jobs")
    run_jobs()
    run = conform(client.get(f"/api/v1/datasources/{sid}/jobs/{rid}", headers=viewer), R).get_json()
    assert run["status"] == "finished", run
    conform(client.get(f"/api/v1/datasources/{sid}/jobs?id={rid}", headers=viewer), S + "/jobs")
    conform(client.get(f"/api/v1/datasources/{sid}/jobs/{rid}/result", headers=viewer), R + "/result")
    conform(client.get(f"/api/v1/datasources/{sid}/jobs/{rid}/preview", headers=viewer), R + "/preview")
    conform(client.get(f"/api/v1/datasources/{sid}/jobs/{rid}/table", headers=viewer), R + "/table")

    conform(client.delete(f"/api/v1/datasources/{sid}", headers=viewer), S)
    conform(client.delete(f"/api/v1/datasources/{sid}", headers=owner), S)
    conform(client.get(f"/api/v1/datasources/{sid}/preview", headers=owner), S + "/preview")
    conform(client.delete(f"/api/v1/projects/{pid}", headers=owner), P)
    assert {
        ("POST", S + "/job", "201"),
        ("GET", S + "/file", "206"),
        ("GET", S + "/file", "416"),
        ("POST", "/api/v1/datasources", "403"),
        ("POST", "/api/v1/datasources", "415"),
    } <= conform.seen


def test_catalogue_and_downloader_answers_match_the_description(client, conform, people, run_jobs):
    admin, user = people["admin"], people["owner"]
    pid = client.post("/api/v1/projects/", json={"title": "data"}, headers=admin).get_json()["id"]
    sid = upload(client, admin, pid).get_json()["id"]
    spec = [
        {"name": "name", "type": "STRING", "is_nullable": False},
        {"name": "age", "type": "INTEGER", "is_nullable": True},
    ]
    body = {"name": "People", "executor_type": "LOCAL", "spec": spec, "datasource_id": sid}
    C, ITEM = "/catalogue/items/", "/catalogue/items/{item_id}"
    item = conform(client.post(C, json=body, headers=admin), C).get_json()
    iid = item["id"]
    conform(client.post(C, json=body, headers=user), C)  # RESEARCHER: 403
    conform(client.post(C, headers=admin), C)  # no body: 400 BODY_JSON_DID_NOT_PARSE
    conform(client.post(C, json={**body, "name": "x", "maintained_by_id": 999999}, headers=admin), C)
    conform(client.get(C + "?query=peo", headers=user), C)
    conform(client.get(C + f"?query=&id={iid}", headers=user), C)
    conform(client.get(C, headers=user), C)  # no query: 400
    conform(client.get(f"{C}{iid}", headers=user), ITEM)
    conform(client.put(f"{C}{iid}", json={**body, "name": "People 2"}, headers=admin), ITEM)
    computed = conform(
        client.post(f"{C}{iid}/compute_spec/", headers=admin), ITEM + "/compute_spec/"
    ).get_json()
    assert computed["@event"] == "CATALOGUEITEM_SPEC_COMPUTED" and len(computed["sample"]) == 4
    unbound = conform(
        client.post(C, json={**body, "name": "Unbound", "datasource_id": None}, headers=admin), C
    ).get_json()
    conform(client.post(f"{C}{unbound['id']}/compute_spec/", headers=admin), ITEM + "/compute_spec/")  # 409

    D = "/downloader/requests/"
    request = {
        "catalogue_item_id": iid,
        "spec": {"columns": ["name", "age"], "filters": [{"name": "age", "operator": ">", "value": 20}]},
    }
    conform(
        client.post(D + "render_ui_data/", json={"catalogue_item_id": iid}, headers=user),
        D + "render_ui_data/",
    )
    conform(
        client.post(D + "render_ui_data/", json={"catalogue_item_id": 999999}, headers=user),
        D + "render_ui_data/",
    )
    conform(client.post(D + "estimate/", json=request, headers=user), D + "estimate/")
    bad = {**request, "spec": {"columns": ["nope"]}}
    conform(client.post(D + "estimate/", json=bad, headers=user), D + "estimate/")
    created = conform(client.post(D, json=request, headers=user), D)
    assert created.status_code == 201
    rid = created.get_json()["id"]
    joined = conform(client.post(D, json=request, headers=admin), D)
    assert joined.status_code == 200 and joined.get_json()["@event"] == "DOWNLOADREQUEST_READ"
    conform(client.get(D, headers=user), D)
    conform(client.get(f"{D}?id={rid}", headers=user), D)
    conform(client.get(f"{D}{rid}/file", headers=user), D + "{request_id}/file")  # not finished: 404
    run_jobs()
    done = conform(client.get(f"{D}{rid}", headers=user), D + "{request_id}").get_json()
    assert done["status"] == "finished", done
    conform(client.get(f"{D}{rid}/file", headers=user), D + "{request_id}/file")
    conform(client.get(f"{D}{rid}/file", headers={**user, "Range": "bytes=0-4"}), D + "{request_id}/file")
    conform(client.delete(f"{C}{iid}", headers=admin), ITEM)  # a request is live: 400
    conform(client.delete(f"{D}{rid}", headers=user), D + "{request_id}")
    conform(client.delete(f"{D}{rid}", headers=admin), D + "{request_id}")
    conform(client.delete(f"{C}{iid}", headers=admin), ITEM)
    assert {
        ("POST", D, "200"),
        ("POST", D, "201"),
        ("DELETE", ITEM, "400"),
        ("DELETE", ITEM, "200"),
        ("GET", D + "{request_id}/file", "206"),
        ("POST", ITEM + "/compute_spec/", "409"),
    } <= conform.seen


def test_scheduler_answers_match_the_description(client, conform, people):
    from app.resources.scheduler.models import DeliveryAttempt, FailedTask, ScheduleRun

    admin, user = people["admin"], people["owner"]
    L, S = "/api/v1/schedule/", "/api/v1/schedule/{schedule_id}/"
    body = {"endpoint": ENDPOINT, "interval_definition": "1 hours", "payload": {"a": 1}, "auth_token": "t"}
    created = conform(client.post(L, json=body, headers=user), L).get_json()
    assert created["signing_secret"].startswith("whsec_")
    sch = created["id"]
    conform(client.post(L, json={"endpoint": ENDPOINT, "inteval_definition": "2 minutes"}, headers=user), L)
    conform(client.post(L, json={"endpoint": ENDPOINT}, headers=user), L)  # no definition: 400
    conform(client.get(L, headers=user), L)
    conform(client.get(f"{L}?id={sch}", headers=user), L)
    conform(client.get(f"{L}{sch}/", headers=user), S)
    conform(client.put(f"{L}{sch}/", json={"cron_definition": "*/5 * * * *"}, headers=user), S)
    conform(client.put(f"{L}{sch}/", json={"enabled": "maybe"}, headers=user), S)

    now = utcnow()
    run = ScheduleRun(schedule_id=created_id(sch), slot=now, generation=0, status="failed", attempts=2)
    db.session.add(run)
    db.session.flush()
    attempt = DeliveryAttempt(
        schedule_id=run.schedule_id,
        run_id=run.id,
        attempt=1,
        due_at=now - timedelta(1),
        sent_at=now,
        status_code=500,
        duration_ms=12,
        response_excerpt="oops",
        outcome="failed",
    )
    task = FailedTask(schedule_id=run.schedule_id, run_id=run.id, attempts=2, reason="HTTP 500")
    db.session.add_all([attempt, task])
    db.session.commit()
    conform(client.get(f"{L}{sch}/deliveries/", headers=user), S + "deliveries/")
    conform(client.get(f"{L}{sch}/deliveries/?id={attempt.id}", headers=user), S + "deliveries/")
    conform(client.get(f"{L}{sch}/deliveries/{attempt.id}", headers=user), S + "deliveries/{delivery_id}")
    F = "/api/v1/failed-tasks/"
    conform(client.get(F, headers=user), F)
    conform(client.get(f"{F}{task.id}", headers=user), F + "{task_id}")
    conform(client.post(F, json={"ids": ["nope"]}, headers=user), F)
    conform(client.post(F, json={"schedule": sch}, headers=user), F)

    conform(client.get("/api/metrics/", headers=user), "/api/metrics/")  # the keys only
    conform(client.post("/api/metrics/", headers=admin), "/api/metrics/")
    conform(client.get("/api/metrics/", headers=admin), "/api/metrics/")
    conform(client.get("/metrics", headers=admin), "/metrics")
    conform(client.delete(f"{L}{sch}/", headers=user), S)
    conform(client.get(f"{L}{sch}/", headers=user), S)
    assert {("POST", F, "201"), ("POST", "/api/metrics/", "200"), ("GET", "/metrics", "200")} <= conform.seen


def created_id(value):
    import uuid

    return uuid.UUID(value)


HUGE = (
    2**70
)  # schemathesis found: past the database integer, these ids were a 500 (OverflowError / DataError)
HUGE_BODIES = [
    ("/api/v1/projects/", {"title": "x", "members": [{"account": HUGE, "role": "editor"}]}, "members"),
    (
        "/catalogue/items/",
        {
            "name": "i",
            "executor_type": "LOCAL",
            "maintained_by_id": HUGE,
            "spec": [{"name": "a", "type": "INTEGER", "is_nullable": False}],
        },
        "maintained_by_id",
    ),
    (
        "/catalogue/items/",
        {
            "name": "i",
            "executor_type": "LOCAL",
            "datasource_id": HUGE,
            "spec": [{"name": "a", "type": "INTEGER", "is_nullable": False}],
        },
        "datasource_id",
    ),
    ("/downloader/requests/", {"catalogue_item_id": HUGE, "spec": {"columns": ["a"]}}, "catalogue_item_id"),
    (
        "/downloader/requests/estimate/",
        {"catalogue_item_id": HUGE, "spec": {"columns": ["a"]}},
        "catalogue_item_id",
    ),
    ("/downloader/requests/render_ui_data/", {"catalogue_item_id": HUGE}, "catalogue_item_id"),
    (
        "/api/v1/schedule/",
        {"endpoint": ENDPOINT, "interval_definition": "1 hours", "frequency": HUGE},
        "frequency",
    ),
    ("/api/v1/datasources", None, "project"),
]


@pytest.mark.parametrize("path, body, field", HUGE_BODIES, ids=[f"{p}:{f}" for p, _, f in HUGE_BODIES])
def test_ids_past_the_database_integer_are_400_naming_the_field(
    client, conform, admin_headers, path, body, field
):
    from app.resources.catalogue.models import CatalogueItem
    from app.resources.datasources.models import DataSource, Project
    from app.resources.downloader.models import DownloadRequest
    from app.resources.scheduler.models import Schedule

    def rows():
        return [
            db.session.query(m).count()
            for m in (Project, DataSource, CatalogueItem, DownloadRequest, Schedule)
        ]

    if body is None:
        data = {"name": "n", "project": str(HUGE), "type": "file", "file": (io.BytesIO(CSV), "a.csv")}
        response = client.post(path, data=data, headers=admin_headers, content_type="multipart/form-data")
    else:
        response = client.post(path, json=body, headers=admin_headers)
    conform(response, path)
    assert response.status_code == 400 and field in response.get_json()["errors"], response.get_json()
    assert rows() == [0, 0, 0, 0, 0]
