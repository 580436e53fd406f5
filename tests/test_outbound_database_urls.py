"""Database URLs under the outbound policy: every spelling that could reach a host the policy refuses is a
400 naming ``connection`` (and, in its message, the parameter) with nothing written; accepted URLs are
pinned to the checked address, and a real PostgreSQL proves the connection goes there and nowhere else.

Only 127.0.0.1 is allowlisted unless a test says otherwise; only names in /etc/hosts are resolved.
"""

import os
import socket
from types import SimpleNamespace

import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from app.jobs.models import JobRecord
from app.outbound_database import DatabaseRefused, pinned
from app.resources.datasources import connectors
from app.resources.datasources.models import DataSource, Project
from app.resources.datasources.tables import TableError

LOOPBACK_ONLY = {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1"}
BASE = "postgresql://u:p@127.0.0.1:5432/db"


@pytest.fixture
def config_overrides():
    return {**LOOPBACK_ONLY, "HALYARD_DATASOURCE_QUERY_TIMEOUT_SECONDS": 5}


@pytest.fixture
def owner(make_account, token_for):
    account = make_account()
    project = Project(title="P", description="", owner_id=account.id)
    db.session.add(project)
    db.session.commit()
    return SimpleNamespace(headers=token_for(account), project=project.id)


def post(client, owner, connection, query="SELECT 1 AS one"):
    body = {
        "name": "db",
        "project": owner.project,
        "type": "database",
        "connection": connection,
        "query": query,
    }
    return client.post("/api/v1/datasources", json=body, headers=owner.headers)


def snapshot():
    """What a refused request must leave as it was: every source row and every job row."""
    db.session.expire_all()
    sources = db.session.execute(
        db.select(DataSource.id, DataSource.name, DataSource.version, DataSource.connection_secret)
    ).all()
    return sorted(sources), db.session.scalar(db.select(db.func.count(JobRecord.id)))


def assert_refused(response, param):
    assert response.status_code == 400, response.get_json()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.get_json()
    assert body["@event"] == "BODY_DID_NOT_VALIDATE" and list(body["errors"]) == ["connection"], body
    message = body["errors"]["connection"][0]
    assert param in message, message
    return message


REFUSED = [
    # the finding: the query string replaces the checked host
    ("postgresql://u:p@127.0.0.1:5199/db?host=127.0.0.2&port=5198", "host"),
    (f"{BASE}?hostaddr=127.0.0.2", "hostaddr"),
    (f"{BASE}?host=127.0.0.1&hostaddr=2130706434", "hostaddr"),  # decimal 127.0.0.2
    (f"{BASE}?hostaddr=127.0.0.1,127.0.0.2&host=127.0.0.1,127.0.0.1", "hostaddr"),
    # several hosts: every one is checked
    ("postgresql://u:p@127.0.0.1,127.0.0.2:5432/db", "host"),
    ("postgresql://u:p@127.0.0.1/db?host=127.0.0.1:5432&host=127.0.0.2:5432", "host"),
    (f"{BASE}?host=127.0.0.1,127.0.0.2&port=5432,5433", "host"),
    # Unix sockets, and no host at all (the driver's default socket)
    ("postgresql://u@/db?host=/var/run/postgresql", "host"),
    (f"{BASE}?host=/tmp", "host"),
    ("postgresql://u@/db?host=@abstract", "host"),
    (f"{BASE}?host=127.0.0.1,", "host"),  # an empty list element is the default socket
    (f"{BASE}?host=127.0.0.1,,127.0.0.1&port=5432", "host"),
    ("postgresql:///db", "host"),
    ("postgresql://u@/db", "host"),
    # parameters that read this server's files, steer the target or change the session
    (f"{BASE}?service=evil", "service"),
    (f"{BASE}?servicefile=/etc/passwd", "servicefile"),
    (f"{BASE}?passfile=/etc/passwd", "passfile"),
    (f"{BASE}?sslkey=/srv/instance/secret_key", "sslkey"),
    (f"{BASE}?sslcert=/etc/ssl/certs/ca-certificates.crt", "sslcert"),
    (f"{BASE}?sslrootcert=/etc/passwd", "sslrootcert"),
    (f"{BASE}?sslcrl=/etc/passwd", "sslcrl"),
    (f"{BASE}?sslkeylogfile=/tmp/keys", "sslkeylogfile"),
    (f"{BASE}?sslcertmode=allow", "sslcertmode"),
    (f"{BASE}?gssencmode=require", "gssencmode"),
    (f"{BASE}?krbsrvname=postgres", "krbsrvname"),
    (f"{BASE}?options=-c%20default_transaction_read_only%3Doff", "options"),
    (f"{BASE}?prepare_threshold=0", "prepare_threshold"),
    (f"{BASE}?bogus=1", "bogus"),
    (f"{BASE}?sslmode=require&sslmode=disable", "sslmode"),
    # other spellings of addresses that are not allowlisted
    ("postgresql://u@[::1]:5432/db", "host"),
    ("postgresql://u@0.0.0.0:5432/db", "host"),
    ("postgresql://u@2130706434/db", "host"),  # decimal 127.0.0.2
    ("postgresql://u@0177.0.0.2/db", "host"),  # octal
    ("postgresql://u@0x7f000002/db", "host"),  # hexadecimal
    ("postgresql://u@127.2/db", "host"),  # short form of 127.0.0.2
    ("postgresql://u@[::ffff:127.0.0.2]/db", "host"),  # IPv4-mapped IPv6
    ("postgresql://u@[::ffff:7f00:2]/db", "host"),
    ("postgresql://u@[::ffff:169.254.169.254]/db", "host"),
    ("postgresql://u@169.254.169.254/db", "host"),
    ("postgresql://u@10.1.2.3/db", "host"),
    # ports and lists that do not add up
    ("postgresql://u@127.0.0.1:99999/db", "port"),
    (f"{BASE}?port=0", "port"),
    ("postgresql://u@/db?host=127.0.0.1,127.0.0.1&port=1,2,3", "port"),
    ("postgresql://u@/db?host=127.0.0.1&port=x", "port"),
    ("postgresql://u@127.0.0.1,127.0.0.1/db?hostaddr=127.0.0.1", "hostaddr"),
    # other drivers and files
    ("sqlite:////etc/passwd", "PostgreSQL"),
    ("postgresql+psycopg2://u@127.0.0.1/db", "PostgreSQL"),
    ("postgresql+asyncpg://u@127.0.0.1/db", "PostgreSQL"),
    ("host=127.0.0.2 dbname=db", "URL"),
]


@pytest.mark.parametrize("connection, param", REFUSED)
def test_every_spelling_is_refused_on_create_and_nothing_is_written(client, owner, connection, param):
    before = snapshot()
    assert_refused(post(client, owner, connection), param)
    assert snapshot() == before


@pytest.mark.parametrize("config_overrides", [{}])  # the default: nothing allowlisted
@pytest.mark.parametrize(
    "connection, param",
    [
        ("postgresql://u@8.8.8.8/db?host=127.0.0.1", "host"),  # a public host steered to loopback
        ("postgresql://u@8.8.8.8/db?hostaddr=127.0.0.1", "hostaddr"),
        ("postgresql://u@8.8.8.8,127.0.0.1/db", "host"),
        ("postgresql://u@localhost/db", "host"),  # a name that resolves to loopback
        ("postgresql://u@8.8.8.8/db?host=localhost", "host"),
    ],
)
def test_default_policy_refuses_loopback_however_it_is_named(client, owner, connection, param):
    before = snapshot()
    message = assert_refused(post(client, owner, connection), param)
    assert "not allowlisted" in message
    assert snapshot() == before


@pytest.mark.parametrize("config_overrides", [{"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,db.internal"}])
def test_an_allowlisted_name_does_not_vouch_for_a_given_hostaddr(client, owner):
    before = snapshot()  # hostaddr is never resolved from the name, so db.internal needs no DNS here
    assert_refused(post(client, owner, "postgresql://u@db.internal/db?hostaddr=10.0.0.1"), "hostaddr")
    assert snapshot() == before


def test_put_with_a_refused_connection_changes_nothing(client, owner):
    created = post(client, owner, f"{BASE}?sslmode=disable")
    assert created.status_code == 201, created.get_json()
    before = snapshot()
    for connection, param in [
        (f"{BASE}?host=127.0.0.2", "host"),
        (f"{BASE}?service=x", "service"),
        ("postgresql://u@/db?host=/var/run/postgresql", "host"),
    ]:
        response = client.put(
            created.get_json()["_links"]["self"]["href"],
            headers=owner.headers,
            json={
                "name": "renamed",
                "type": "database",
                "connection": connection,
                "query": "SELECT 2 AS two",
            },
        )
        assert_refused(response, param)
    assert snapshot() == before


@pytest.mark.parametrize(
    "connection",
    [
        f"{BASE}?sslmode=disable&application_name=halyard&connect_timeout=3&target_session_attrs=any",
        "postgresql+psycopg://u@127.0.0.1/db?sslmode=verify-full&sslrootcert=system",
        "postgresql://u@localhost:5432/db",  # /etc/hosts: 127.0.0.1
        "postgresql://u@2130706433/db",  # decimal 127.0.0.1
        "postgresql://u@/db?host=127.0.0.1,localhost&port=5432,5433",
        "postgresql://u@127.0.0.1/db?host=127.0.0.1:5432&host=localhost:5433",
    ],
)
def test_allowed_urls_are_stored_and_pinned_to_the_checked_address(app, client, owner, connection):
    response = post(client, owner, connection)
    assert response.status_code == 201, response.get_json()
    params = pinned(connection)
    hosts = params["host"].split(",")
    assert params["hostaddr"].split(",") == ["127.0.0.1"] * len(hosts)
    assert not os.path.exists(params["passfile"]) and params["gssencmode"] == "disable"
    assert all(port.isdigit() for port in params["port"].split(","))  # explicit: PGPORT cannot move it


def test_connect_timeout_is_capped_by_the_configured_limit():
    assert pinned(f"{BASE}?connect_timeout=600", timeout=5, config=LOOPBACK_ONLY)["connect_timeout"] == "5"
    assert pinned(f"{BASE}?connect_timeout=0", timeout=5, config=LOOPBACK_ONLY)["connect_timeout"] == "5"
    assert pinned(f"{BASE}?connect_timeout=2", timeout=5, config=LOOPBACK_ONLY)["connect_timeout"] == "2"


def test_refusals_never_show_the_password():
    with pytest.raises(DatabaseRefused) as caught:
        pinned("postgresql://u:Sup3rSecret@127.0.0.2/db", config=LOOPBACK_ONLY)
    assert "Sup3rSecret" not in str(caught.value)


# A real PostgreSQL: the connection goes to the checked address, and only there.


@pytest.fixture
def postgres():
    """The test PostgreSQL server as (user, password, database) on 127.0.0.1:5432, or a skip that says why."""
    import psycopg

    server = make_url(os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres")
    if (server.host, server.port or 5432) != ("127.0.0.1", 5432):
        pytest.skip(f"the test PostgreSQL is at {server.host}:{server.port}, not 127.0.0.1:5432")
    try:
        psycopg.connect(
            host="127.0.0.1",
            port=5432,
            user=server.username,
            password=server.password,
            dbname=server.database,
            connect_timeout=5,
        ).close()
    except psycopg.Error as error:
        pytest.skip(f"no PostgreSQL to connect to at 127.0.0.1:5432 ({type(error).__name__})")
    return server


def via(server, host):
    return server.set(drivername="postgresql", host=host, port=5432).render_as_string(hide_password=False)


def test_worker_connects_to_the_checked_address(app, client, owner, run_jobs, postgres):
    url = via(postgres, "localhost") + "?application_name=halyard-pinned"
    query = "SELECT host(inet_server_addr()) AS addr, current_setting('application_name') AS app"
    response = post(client, owner, url, query)
    assert response.status_code == 201, response.get_json()
    run_jobs()
    doc = client.get(response.get_json()["_links"]["self"]["href"], headers=owner.headers).get_json()
    assert doc["status"] == "ready", doc
    rows = client.get(doc["file"], headers=owner.headers).data.decode().splitlines()
    assert rows == ["addr,app", "127.0.0.1,halyard-pinned"]


def test_the_pin_not_a_second_lookup_decides_where_libpq_connects(app, postgres, monkeypatch):
    """The check's lookup says where the connection goes: libpq never resolves the name again.

    DNS rebinding is simulated by the check seeing ``localhost`` at 127.0.0.3 (allowlisted, nothing
    listens there); libpq's own lookup would give 127.0.0.1, where PostgreSQL answers. The pinned
    connection fails; with the check seeing 127.0.0.1 it succeeds. Only the check's view changed.
    """
    app.config["HALYARD_OUTBOUND_ALLOWLIST"] = "127.0.0.0/8"
    real = socket.getaddrinfo
    seen = {"localhost": "127.0.0.3"}

    def dns(host, port, *args, **kwargs):
        return real(seen.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    url, destination = via(postgres, "localhost"), os.path.join(app.instance_path, "pinned.csv")
    with pytest.raises(TableError, match="Could not connect"):
        connectors.run_query(url, "SELECT 1 AS one", destination)
    seen["localhost"] = "127.0.0.1"
    connectors.run_query(url, "SELECT host(inet_server_addr()) AS addr", destination)
    with open(destination) as fh:
        assert fh.read().splitlines() == ["addr", "127.0.0.1"]


def test_the_worker_checks_again_when_it_connects(app, client, owner, run_jobs, postgres):
    response = post(client, owner, via(postgres, "127.0.0.1"))
    assert response.status_code == 201, response.get_json()
    app.config["HALYARD_OUTBOUND_ALLOWLIST"] = ""  # the policy tightened before the job ran
    run_jobs()
    doc = client.get(response.get_json()["_links"]["self"]["href"], headers=owner.headers).get_json()
    assert doc["status"] == "error" and "not allowed by the outbound policy (host)" in doc["error"], doc
    assert doc["file"] is None
