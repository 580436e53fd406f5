"""Step scripts and sandboxed step jobs: upload, listing, ordering, and containment."""

import io
import socket
import threading

import pytest


@pytest.fixture
def config_overrides():
    return {
        "HALYARD_SANDBOX_WALL_SECONDS": 3,
        "HALYARD_SANDBOX_CPU_SECONDS": 2,
        "HALYARD_SANDBOX_MEMORY_BYTES": 256 * 1024 * 1024,
    }


def upload_script(client, headers, source, body, filename="step.py"):
    return client.post(
        source["_links"]["ec:datasource/scripts"]["href"].replace("/script", "/script-upload"),
        data={"script": (io.BytesIO(body), filename)},
        headers=headers,
        content_type="multipart/form-data",
    )


def run(client, run_jobs, headers, source, steps):
    r = client.post(f"/api/v1/datasources/{source['id']}/job", json={"steps": steps}, headers=headers)
    assert r.status_code == 201, r.get_json()
    run_jobs()
    return client.get(r.headers["Location"], headers=headers).get_json()


def one_step(client, run_jobs, team, source, body, name="probe"):
    assert upload_script(client, team.owner.headers, source, body, f"{name}.py").status_code == 201
    return run(client, run_jobs, team.owner.headers, source, [{"key": f"upload:{name}", "exec_order": 1}])


def test_scripts_listing_upload_and_delete(client, team, source):
    listed = client.get(f"/api/v1/datasources/{source['id']}/script", headers=team.viewer.headers).get_json()
    keys = [s["key"] for s in listed["_embedded"]["ec:datasource/script"]]
    assert keys == [
        "builtin:drop_columns",
        "builtin:fill_nulls",
        "builtin:filter_rows",
        "builtin:rename_columns",
    ]
    assert all("def transform" in s["body"] for s in listed["_embedded"]["ec:datasource/script"])
    r = upload_script(
        client, team.editor.headers, source, b"def transform(rows):\n    return rows\n", "noop.py"
    )
    assert r.status_code == 201 and r.headers["Location"].endswith("/script/upload:noop")
    one = client.get(
        f"/api/v1/datasources/{source['id']}/script?key=upload:noop", headers=team.viewer.headers
    )
    assert one.get_json()["body"].startswith("def transform")
    assert (
        client.get(
            f"/api/v1/datasources/{source['id']}/script?kind=upload", headers=team.viewer.headers
        ).get_json()["total"]
        == 1
    )
    assert client.delete(r.headers["Location"], headers=team.viewer.headers).status_code == 403
    assert client.delete(r.headers["Location"], headers=team.editor.headers).status_code == 204
    assert client.get(r.headers["Location"], headers=team.editor.headers).status_code == 404


@pytest.mark.parametrize(
    "body, filename, message",
    [
        (b"def transform(rows:\n    pass\n", "bad.py", "Syntax error on line 1"),
        (b"x = 1\n", "notes.txt", ".py"),
        (b"\xff\xfe\x00", "bin.py", "UTF-8"),
    ],
)
def test_bad_scripts_are_400(client, team, source, body, filename, message):
    r = upload_script(client, team.owner.headers, source, body, filename)
    assert r.status_code == 400 and message in r.get_json()["errors"]["script"][0]
    listed = client.get(f"/api/v1/datasources/{source['id']}/script?kind=upload", headers=team.owner.headers)
    assert listed.get_json()["total"] == 0


@pytest.mark.parametrize(
    "steps, field",
    [
        ([], "steps"),
        ([{"key": "builtin:nope", "exec_order": 1}], "steps"),
        ([{"key": "upload:missing", "exec_order": 1}], "steps"),
        (
            [
                {"key": "builtin:fill_nulls", "exec_order": 1},
                {"key": "builtin:drop_columns", "exec_order": 1},
            ],
            "steps",
        ),
        ([{"key": "builtin:fill_nulls"}], "steps"),
    ],
)
def test_bad_job_bodies(client, team, source, steps, field):
    r = client.post(
        f"/api/v1/datasources/{source['id']}/job", json={"steps": steps}, headers=team.owner.headers
    )
    assert r.status_code == 400 and field in r.get_json()["errors"]
    assert (
        client.get(f"/api/v1/datasources/{source['id']}/jobs", headers=team.owner.headers).get_json()["total"]
        == 0
    )


def test_steps_run_in_exec_order_and_store_a_result(client, run_jobs, team, source):
    tag = (
        b"def transform(rows, params):\n    for i, row in enumerate(rows):\n"
        b"        row['seen'] = i\n        yield row\n"
    )
    assert upload_script(client, team.owner.headers, source, tag, "number.py").status_code == 201
    steps = [  # deliberately listed out of order
        {"key": "builtin:rename_columns", "exec_order": 30, "params": {"mapping": {"seen": "position"}}},
        {
            "key": "builtin:filter_rows",
            "exec_order": 10,
            "params": {"column": "city", "op": "eq", "value": "Oslo"},
        },
        {"key": "upload:number", "exec_order": 20},
        {"key": "builtin:fill_nulls", "exec_order": 5, "params": {"value": "0", "columns": ["age"]}},
    ]
    job = run(client, run_jobs, team.editor.headers, source, steps)
    assert job["status"] == "finished", job
    assert [s["exec_order"] for s in job["steps"]] == [5, 10, 20, 30]
    assert all(
        s["status"] == "finished" and s["exit_status"] == 0 and s["duration"] > 0 for s in job["steps"]
    )
    assert (
        job["meta_data"]["items"] == 2
        and job["meta_data"]["fields"] == 4
        and job["progress"]["fraction"] == 1.0
    )
    result = client.get(job["_links"]["ec:datasource-job/result"]["href"], headers=team.viewer.headers)
    assert result.data.decode().splitlines() == ["name,age,city,position", "Ann,31,Oslo,0", "Cy,27,Oslo,1"]
    preview = client.get(job["meta_data"]["preview"], headers=team.viewer.headers).get_json()
    assert [c["name"] for c in preview["columns"]] == ["name", "age", "city", "position"]
    rq_job = client.get(job["_links"]["ec:job"]["href"], headers=team.editor.headers).get_json()
    assert (
        rq_job["status"] == "finished"
        and rq_job["_links"]["ec:job/result"]["href"] == job["_links"]["self"]["href"]
    )
    listed = client.get(f"/api/v1/datasources/{source['id']}/jobs", headers=team.viewer.headers).get_json()
    assert [j["id"] for j in listed["_embedded"]["ec:datasource-job"]] == [job["id"]]


def test_failing_step_stops_the_job(client, run_jobs, team, source):
    bad = b"def transform(rows):\n    raise ValueError('no good: row 7')\n"
    assert upload_script(client, team.owner.headers, source, bad, "bad.py").status_code == 201
    job = run(
        client,
        run_jobs,
        team.owner.headers,
        source,
        [
            {"key": "builtin:fill_nulls", "exec_order": 1},
            {"key": "upload:bad", "exec_order": 2},
            {"key": "builtin:drop_columns", "exec_order": 3},
        ],
    )
    assert job["status"] == "failed"
    assert (
        "upload:bad" in job["error"] and "exit status 1" in job["error"] and "no good: row 7" in job["error"]
    )
    assert [s["status"] for s in job["steps"]] == ["finished", "failed", "skipped"]
    assert "ValueError: no good: row 7" in job["steps"][1]["stderr_tail"]
    assert job["result"] is None and "ec:datasource-job/result" not in job["_links"]
    assert (
        client.get(job["_links"]["ec:job"]["href"], headers=team.owner.headers).get_json()["status"]
        == "failed"
    )


def test_sleeping_forever_is_killed_at_the_wall_clock_limit(client, run_jobs, team, source):
    job = one_step(
        client, run_jobs, team, source, b"import time\ndef transform(rows):\n    time.sleep(3600)\n"
    )
    step = job["steps"][0]
    assert job["status"] == "failed" and step["reason"] == "time" and step["exit_status"] == -9
    assert 2.5 < step["duration"] < 10 and "wall-clock limit" in job["error"]


def test_cpu_burner_is_killed_at_the_cpu_limit(app, client, run_jobs, team, source):
    app.config.update(HALYARD_SANDBOX_CPU_SECONDS=1, HALYARD_SANDBOX_WALL_SECONDS=15)
    job = one_step(client, run_jobs, team, source, b"def transform(rows):\n    while True:\n        pass\n")
    step = job["steps"][0]
    assert job["status"] == "failed" and step["reason"] == "cpu" and step["duration"] < 15, step
    assert "CPU limit" in job["error"]


def test_memory_hungry_step_is_contained(client, run_jobs, team, source):
    job = one_step(
        client,
        run_jobs,
        team,
        source,
        b"def transform(rows):\n    hog = bytearray(2 * 1024 ** 3)\n    return []\n",
    )
    assert job["status"] == "failed" and job["steps"][0]["reason"] == "memory"
    assert "MemoryError" in job["steps"][0]["stderr_tail"]


def test_environment_is_empty_and_server_files_hidden(app, client, run_jobs, team, source):
    probe = f"""import os, json
def transform(rows):
    seen = {{}}
    for path in {[app.instance_path, app.config["HALYARD_STORAGE_ROOT"], "/tmp", "/run"]!r}:
        try:
            seen[path] = os.listdir(path)
        except OSError as error:
            seen[path] = type(error).__name__
    yield {{"env": json.dumps(dict(os.environ)), "uid": os.getuid(), "seen": json.dumps(seen)}}
""".encode()
    job = one_step(client, run_jobs, team, source, probe)
    assert job["status"] == "finished", job
    text = client.get(job["result"], headers=team.owner.headers).data.decode()
    assert "test-secret" not in text and "DATABASE_URL" not in text and "REDIS" not in text
    import csv

    row = next(csv.DictReader(io.StringIO(text)))
    import json

    assert set(json.loads(row["env"])) <= {"PWD", "OLDPWD", "LC_CTYPE"}
    assert int(row["uid"]) > app.config["HALYARD_SANDBOX_UID_BASE"]  # its own uid: test_sandbox_escapes.py
    seen = json.loads(row["seen"])
    assert all(v in ([], "FileNotFoundError", "PermissionError") for v in seen.values()), seen


@pytest.fixture
def tcp_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []

    def serve():
        try:
            conn, _ = server.accept()
            accepted.append(conn)
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


def test_network_is_unreachable(client, run_jobs, team, source, tcp_server):
    """The step's network namespace holds only its own loopback: the host's listener is out of reach."""
    port, accepted = tcp_server
    body = (
        f"import socket\ndef transform(rows):\n    print(socket.if_nameindex())\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    return []\n"
    ).encode()
    job = one_step(client, run_jobs, team, source, body)
    assert job["status"] == "failed" and "ConnectionRefusedError" in job["steps"][0]["stderr_tail"]
    assert job["steps"][0]["stdout_tail"].strip() == "[(1, 'lo')]"
    assert accepted == []


def test_output_size_is_capped(app, client, run_jobs, team, source):
    app.config["HALYARD_SANDBOX_OUTPUT_BYTES"] = 64 * 1024
    body = b"def transform(rows):\n    for i in range(100000):\n        yield {'x': 'y' * 100}\n"
    job = one_step(client, run_jobs, team, source, body)
    assert job["status"] == "failed" and job["steps"][0]["reason"] == "output"


def test_sandbox_unavailable_fails_closed(app, client, run_jobs, team, source):
    app.config["HALYARD_SANDBOX_BWRAP"] = "/nonexistent/bwrap"
    job = run(client, run_jobs, team.owner.headers, source, [{"key": "builtin:fill_nulls", "exec_order": 1}])
    assert job["status"] == "failed" and "sandbox is unavailable" in job["error"]
    assert job["steps"][0]["status"] == "skipped"


def _rels(doc):
    found = set(doc.get("_links", {})) | set(doc.get("_embedded", {}))
    for value in doc.get("_embedded", {}).values():
        for child in value if isinstance(value, list) else [value]:
            found |= _rels(child)
    return found


def test_every_curied_rel_is_documented(client, run_jobs, team, source):
    job = run(client, run_jobs, team.owner.headers, source, [{"key": "builtin:fill_nulls", "exec_order": 1}])
    urls = [
        "/",
        "/api/v1/projects/",
        f"/api/v1/projects/{team.project.id}",
        "/api/v1/datasources",
        f"/api/v1/projects/{team.project.id}/datasources",
        source["_links"]["self"]["href"],
        f"/api/v1/datasources/{source['id']}/script",
        f"/api/v1/datasources/{source['id']}/jobs",
        job["_links"]["self"]["href"],
    ]
    rels = set()
    for target in urls:
        rels |= _rels(client.get(target, headers=team.owner.headers).get_json())
    curied = sorted(r for r in rels if r.startswith("ec:"))
    assert len(curied) >= 10, curied  # the walk reached the domain's resources
    for rel in sorted(r for r in rels if r.startswith("ec:")):
        assert client.get(f"/rels/{rel[3:]}").status_code == 200, rel


def test_step_job_on_a_real_forking_worker(client, team, source, worker_process):
    """The production path: a `halyard worker` forks a work horse, which starts the sandboxed step."""
    r = client.post(
        f"/api/v1/datasources/{source['id']}/job",
        headers=team.owner.headers,
        json={
            "steps": [
                {"key": "builtin:drop_columns", "exec_order": 1, "params": {"columns": ["age", "city"]}}
            ]
        },
    )
    assert r.status_code == 201
    proc = worker_process("--burst", "--no-scheduler")
    assert proc.wait(60) == 0, proc.stdout.read().decode()[-2000:]
    job = client.get(r.headers["Location"], headers=team.owner.headers).get_json()
    assert job["status"] == "finished", job
    assert client.get(job["result"], headers=team.owner.headers).data.decode().split() == [
        "name",
        "Ann",
        "Bob",
        "Cy",
        "Dee",
    ]
