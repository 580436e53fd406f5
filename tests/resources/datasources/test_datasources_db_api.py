"""The ``database`` and ``api`` types: real databases (the app's own, PostgreSQL) and a real HTTP server."""

import json
import os

import pytest

from app.extensions import db
from app.resources.datasources import connectors
from app.resources.datasources.models import DataSource, Project
from app.resources.datasources.tables import TableError
from tests.route_server import serve_routes


@pytest.fixture
def config_overrides(database_url):
    return {
        "HALYARD_DATASOURCE_CONNECTIONS": {"local": database_url},
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1",
        "HALYARD_DATASOURCE_QUERY_TIMEOUT_SECONDS": 5,
    }


def create(client, headers, project_id, **fields):
    return client.post(
        "/api/v1/datasources",
        data={"project": str(project_id), **fields},
        headers=headers,
        content_type="multipart/form-data",
    )


def ready(client, headers, doc, run_jobs):
    assert doc["status"] == "processing" and "ec:job" in doc["_links"]
    run_jobs()
    return client.get(doc["_links"]["self"]["href"], headers=headers).get_json()


def test_database_source_by_reference(client, team, run_jobs):
    r = create(
        client,
        team.owner.headers,
        team.project.id,
        name="projects",
        type="database",
        connection="local",
        query="SELECT id, title FROM projects ORDER BY id",
    )
    assert r.status_code == 201, r.get_json()
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["status"] == "ready", doc
    assert doc["meta_data"]["items"] == 1 and doc["meta_data"]["fields"] == 2
    assert doc["connection"] == "local" and doc["connection_stored"] == "reference"
    preview = client.get(doc["meta_data"]["preview"], headers=team.viewer.headers).get_json()
    assert preview["rows"] == [{"id": team.project.id, "title": "Shared"}]
    assert client.get(doc["file"], headers=team.viewer.headers).data.decode().splitlines()[0] == "id,title"


def test_row_cap_truncates(app, client, team, run_jobs):
    app.config["HALYARD_DATASOURCE_ROW_CAP"] = 2
    for n in range(3):
        db.session.add(Project(title=f"p{n}", owner_id=team.owner.id))
    db.session.commit()
    r = create(
        client,
        team.owner.headers,
        team.project.id,
        name="capped",
        type="database",
        connection="local",
        query="SELECT title FROM projects ORDER BY id",
    )
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["meta_data"]["items"] == 2 and doc["problems"]["truncated"] is True


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM projects",
        "SELECT 1; SELECT 2",
        "SELECT * INTO copy FROM projects",
        "SELECT * FROM projects FOR UPDATE",
        "WITH gone AS (DELETE FROM projects RETURNING id) SELECT * FROM gone",
        "DROP TABLE projects",
        "not sql at all (",
    ],
)
def test_only_one_read_only_select(client, team, query):
    r = create(
        client,
        team.owner.headers,
        team.project.id,
        name="bad",
        type="database",
        connection="local",
        query=query,
    )
    assert r.status_code == 400 and "query" in r.get_json()["errors"], r.get_json()
    assert db.session.scalar(db.select(db.func.count(DataSource.id))) == 0


def test_read_only_transaction_blocks_writes_that_pass_the_parser(app, team, database_url):
    """Defence in depth: even a statement that reaches the database cannot write."""
    with pytest.raises(TableError):
        connectors.run_query(database_url, "DELETE FROM projects", os.path.join(app.instance_path, "x.csv"))
    assert db.session.scalar(db.select(db.func.count(Project.id))) == 1


def test_query_timeout(app, client, team, run_jobs, database_url):
    app.config["HALYARD_DATASOURCE_QUERY_TIMEOUT_SECONDS"] = 1
    if database_url.startswith("postgresql"):
        query = "SELECT pg_sleep(5) AS slept"
    else:
        query = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
            "SELECT count(*) AS c FROM n"
        )
    r = create(
        client,
        team.owner.headers,
        team.project.id,
        name="slow",
        type="database",
        connection="local",
        query=query,
    )
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["status"] == "error" and "time limit" in doc["error"]


@pytest.mark.parametrize(
    "connection, message",
    [
        ("sqlite:////etc/passwd", "Only PostgreSQL"),
        ("postgresql://u:p@10.1.2.3:5432/x", "not allowed"),
        ("nonsense", "configured connection"),
    ],
)
def test_refused_connections(client, team, connection, message):
    r = create(
        client,
        team.owner.headers,
        team.project.id,
        name="c",
        type="database",
        connection=connection,
        query="SELECT 1 AS one",
    )
    assert r.status_code == 400 and message in r.get_json()["errors"]["connection"][0]


def test_postgresql_url_is_stored_encrypted_and_never_returned(client, team, run_jobs):
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL server to connect to by URL")
    r = create(
        client,
        team.owner.headers,
        team.project.id,
        name="pg",
        type="database",
        connection=server,
        query="SELECT 1 AS one, 'two' AS two",
    )
    assert r.status_code == 201, r.get_json()
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["status"] == "ready" and doc["meta_data"]["items"] == 1, doc
    assert doc["connection"] is None and doc["connection_stored"] == "encrypted"
    everything = (
        json.dumps(doc) + client.get(doc["meta_data"]["preview"], headers=team.owner.headers).data.decode()
    )
    assert server not in everything and "postgres@" not in everything
    row = db.session.get(DataSource, doc["id"])
    assert server not in row.connection_secret and connectors.decrypt(row.connection_secret) == server
    put = client.put(
        doc["_links"]["self"]["href"],
        headers=team.owner.headers,
        content_type="multipart/form-data",
        data={"name": "pg2", "type": "database", "query": "SELECT 2 AS two"},
    )
    assert put.status_code == 200
    again = ready(client, team.owner.headers, put.get_json(), run_jobs)
    assert again["status"] == "ready" and again["name"] == "pg2", again


ROUTES = {
    "/data.csv": (200, "text/csv", b"x;y\n1;a\n2;b\n3;c\n"),
    "/data.json": (
        200,
        "application/json",
        json.dumps([{"id": 1, "tags": ["a"]}, {"id": 2, "name": "n"}]).encode(),
    ),
    "/object.json": (200, "application/json", b'{"not": "an array"}'),
    "/broken": (500, "text/plain", b"oops"),
    "/huge.csv": (200, "text/csv", b"a\n" + b"1\n" * 200_000),
}


@pytest.fixture
def http_server():
    with serve_routes(ROUTES) as base:
        yield base


def test_api_source_csv_and_json(client, team, run_jobs, http_server):
    r = create(
        client, team.owner.headers, team.project.id, name="csv", type="api", url=f"{http_server}/data.csv"
    )
    assert r.status_code == 201, r.get_json()
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["status"] == "ready" and doc["meta_data"]["items"] == 3 and doc["problems"]["delimiter"] == ";"
    assert client.get(doc["file"], headers=team.owner.headers).data.startswith(b"x;y")
    r = create(
        client, team.owner.headers, team.project.id, name="json", type="api", url=f"{http_server}/data.json"
    )
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["status"] == "ready" and [c["name"] for c in doc["columns"]] == ["id", "tags", "name"]
    rows = client.get(doc["meta_data"]["preview"], headers=team.owner.headers).get_json()["rows"]
    assert rows[0] == {"id": 1, "tags": '["a"]', "name": None}


@pytest.mark.parametrize(
    "path, message",
    [
        ("/object.json", "array of objects"),
        ("/broken", "HTTP 500"),
        ("/huge.csv", "too_large"),
    ],
)
def test_api_failures_become_error_status(app, client, team, run_jobs, http_server, path, message):
    app.config["HALYARD_DATASOURCE_API_MAX_BYTES"] = 100_000
    r = create(client, team.owner.headers, team.project.id, name="bad", type="api", url=http_server + path)
    doc = ready(client, team.owner.headers, r.get_json(), run_jobs)
    assert doc["status"] == "error" and message in doc["error"], doc


def test_api_refuses_private_addresses(app, client, team, run_jobs, http_server):
    r = create(
        client, team.owner.headers, team.project.id, name="private", type="api", url="http://10.0.0.7/x.csv"
    )
    assert r.status_code == 400 and "url" in r.get_json()["errors"]
    assert db.session.scalar(db.select(db.func.count(DataSource.id))) == 0
    doc = create(
        client, team.owner.headers, team.project.id, name="later", type="api", url=f"{http_server}/data.csv"
    ).get_json()
    app.config["HALYARD_OUTBOUND_ALLOWLIST"] = ""  # policy tightened before the job runs: refused at fetch
    failed = ready(client, team.owner.headers, doc, run_jobs)
    assert failed["status"] == "error" and "refused" in failed["error"]
