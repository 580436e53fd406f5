"""Issue 13's step-sandbox escapes, each tried through a real step job against the real bwrap sandbox.

Processes are checked from OUTSIDE the sandbox, by reading /proc/*/status on the host, never by asking
the code under test. docs/security.md "Step sandbox (user code)" names these tests.
"""

import csv
import io
import json
import os
import pwd
import secrets
import signal
import subprocess
import time

import pytest

from app.extensions import db
from app.resources.datasources.models import Project
from tests.resources.datasources.test_datasources_steps import one_step, upload_script

SECRET_ROW = "B-TOP-SECRET-ROW-42"


@pytest.fixture
def config_overrides():
    """Wall-clock room for steps that wait on the test (each test that needs a short limit sets it)."""
    return {"HALYARD_SANDBOX_WALL_SECONDS": 60}


@pytest.fixture
def other_source(actor, upload):
    """Another user's project and source, whose table holds SECRET_ROW."""
    other = actor()
    project = Project(title="Other", description="", owner_id=other.id)
    db.session.add(project)
    db.session.commit()
    r = upload(other.headers, project.id, f"name,note\nBea,{SECRET_ROW}\n".encode(), name="private")
    assert r.status_code == 201
    return other, r.get_json()


def host_processes():
    """{pid: (uids (real, effective, saved, fs), ppid, status text)} of every host process, from /proc."""
    found = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/status") as fh:
                status = fh.read()
        except (OSError, ValueError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found[int(name)] = (tuple(int(v) for v in fields["Uid"].split()), int(fields["PPid"]), status)
    return found


def _named(uid):
    """Whether ``uid`` belongs to an account of this host."""
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def of_uid(uid):
    """The host processes that run as ``uid`` (any of their uids), seen from outside the sandbox."""
    return {pid: info for pid, info in host_processes().items() if uid in info[0]}


def steps_under(ancestor, base):
    """{pid: uid} of the step processes (uid above the base) that descend from the process ``ancestor``."""
    table, found = host_processes(), {}
    for pid, (uids, _, _) in table.items():
        parent = pid
        while uids[0] > base and parent in table and parent > 1:
            parent = table[parent][1]
            if parent == ancestor:
                found[pid] = uids[0]
                break
    return found


def harness_of(step):
    """The step's first process (its parent is bwrap's init, not another process of the step)."""
    table = host_processes()
    return next(pid for pid in step if pid in table and table[pid][1] not in step)


def wait_for(predicate, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {seconds} s")


def result_row(client, headers, job):
    assert job["status"] == "finished", job
    return next(csv.DictReader(io.StringIO(client.get(job["result"], headers=headers).data.decode())))


@pytest.fixture
def secret_key(app):
    """The instance's secret_key file (made for the test when this run has none)."""
    path = os.path.join(app.instance_path, "secret_key")
    made = not os.path.exists(path)
    if made:
        with open(path, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path, "rb") as fh:
        yield path, fh.read()
    if made:
        os.unlink(path)


def _stored_upload(app, other_source):
    root = app.config["HALYARD_STORAGE_ROOT"]
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                if SECRET_ROW.encode() in fh.read():
                    return path
    raise AssertionError("the other user's upload is not in storage")


@pytest.mark.parametrize("target", ["secret_key", "database", "other user's upload"])
def test_output_symlinked_to_a_server_file_is_refused(
    app, client, run_jobs, team, source, other_source, secret_key, stored_files, target
):
    if target == "secret_key":
        path, secret = secret_key
    elif target == "database":
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the database is PostgreSQL in this run: there is no database file to link")
        path = db.engine.url.database
        secret = b"SQLite format 3"
    else:
        path, secret = _stored_upload(app, other_source), SECRET_ROW.encode()
    before = stored_files()
    body = (
        f"import os\ndef transform(rows):\n    os.unlink('output.csv')\n"
        f"    os.symlink({path!r}, 'output.csv')\n    return []\n"
    ).encode()
    job = one_step(client, run_jobs, team, source, body)
    step = job["steps"][0]
    assert job["status"] == "failed" and step["exit_status"] == 0 and step["reason"] == "output-file", job
    assert "output.csv is not a regular file the step wrote" in job["error"]
    assert job["result"] is None and "ec:datasource-job/result" not in job["_links"]
    result = client.get(f"{job['_links']['self']['href']}/result", headers=team.owner.headers)
    assert result.status_code == 404
    new = stored_files() - before
    for folder, _, names in os.walk(app.config["HALYARD_STORAGE_ROOT"]):
        for name in set(names) & new:  # nothing the job stored holds the secret
            with open(os.path.join(folder, name), "rb") as fh:
                assert secret not in fh.read()


@pytest.mark.parametrize(
    "trick, expected",
    [
        ("os.link('input.csv', 'output.csv')", "hard link"),
        ("os.mkfifo('output.csv')", "fifo"),  # a naive reader would block forever
        ("os.mkdir('output.csv')", "folder"),
        ("pass", "missing"),
    ],
)
def test_output_that_is_not_a_plain_file_of_the_step_is_refused(
    client, run_jobs, team, source, trick, expected
):
    body = f"import os\ndef transform(rows):\n    os.unlink('output.csv')\n    {trick}\n    return []\n"
    body = body.encode()
    job = one_step(client, run_jobs, team, source, body)
    assert job["status"] == "failed" and job["steps"][0]["reason"] == "output-file", (expected, job)
    assert "output.csv is not a regular file the step wrote" in job["error"]


def test_hard_link_to_a_host_file_cannot_be_made(client, run_jobs, team, source, secret_key):
    path, _ = secret_key
    body = f"""import os
def transform(rows):
    for target in ({path!r}, '/usr/bin/python3'):
        try:
            os.link(target, 'linked')
            yield {{'target': target, 'error': 'linked'}}
        except OSError as error:
            yield {{'target': target, 'error': type(error).__name__}}
""".encode()
    text = client.get(one_step(client, run_jobs, team, source, body)["result"], headers=team.owner.headers)
    rows = list(csv.DictReader(io.StringIO(text.data.decode())))
    # the instance file does not exist in the sandbox; a system file is on another (read-only) mount
    assert rows[0]["error"] == "FileNotFoundError", rows
    assert rows[1]["error"] in ("OSError", "PermissionError"), rows


FORK_AND_LEAVE = """import os, time
def transform(rows):
    print(os.getuid(), flush=True)
    child = os.fork()
    if child == 0:
        os.setsid()
        time.sleep(600)
        os._exit(0)
    {after}
    yield {{"uid": os.getuid(), "child": child}}
"""


@pytest.mark.parametrize("after, ends", [("pass", "finished"), ("time.sleep(600)", "failed")])
def test_forked_setsid_child_dies_with_its_step(app, client, run_jobs, team, source, after, ends):
    """A child that left the session is killed when the step returns or is killed at its limit."""
    app.config["HALYARD_SANDBOX_WALL_SECONDS"] = 5
    job = one_step(client, run_jobs, team, source, FORK_AND_LEAVE.format(after=after).encode())
    assert job["status"] == ends, job
    uid = int(job["steps"][0]["stdout_tail"])
    assert uid > app.config["HALYARD_SANDBOX_UID_BASE"]
    if ends == "failed":
        assert job["steps"][0]["reason"] == "time"
    assert of_uid(uid) == {}  # checked from outside: nothing of the step's uid is left on the host


def test_step_processes_die_with_a_killed_worker(app, client, team, source, worker_process):
    """kill -9 of the work horse running a step: the whole sandbox goes with it (--die-with-parent)."""
    base = app.config["HALYARD_SANDBOX_UID_BASE"]
    body = FORK_AND_LEAVE.format(after="time.sleep(600)").encode()
    assert upload_script(client, team.owner.headers, source, body, "hang.py").status_code == 201
    r = client.post(
        f"/api/v1/datasources/{source['id']}/job",
        headers=team.owner.headers,
        json={"steps": [{"key": "upload:hang", "exec_order": 1}]},
    )
    assert r.status_code == 201
    worker = worker_process("--burst", "--no-scheduler")
    step = wait_for(lambda: len(steps_under(worker.pid, base)) >= 2 and steps_under(worker.pid, base))
    uid = set(step.values()).pop()
    chain, table = [harness_of(step)], host_processes()
    while chain[-1] != worker.pid:  # harness → bwrap's init → bwrap → work horse → worker
        chain.append(table[chain[-1]][1])
    assert len(chain) == 5, chain
    os.kill(chain[3], signal.SIGKILL)
    wait_for(lambda: not of_uid(uid) and not os.path.exists(f"/proc/{chain[1]}"), 30)
    assert worker.wait(60) is not None


def test_proc_shows_only_the_step_and_no_host_command_lines(client, run_jobs, team, source):
    body = b"""import os, json
def transform(rows):
    seen = {}
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            with open(f'/proc/{pid}/cmdline', 'rb') as fh:
                seen[pid] = fh.read().replace(b'\\0', b' ').decode()
    yield {"seen": json.dumps(seen), "self": os.getpid()}
"""
    row = result_row(client, team.owner.headers, one_step(client, run_jobs, team, source, body))
    seen = json.loads(row["seen"])
    assert sorted(seen) == ["1", "2"] and row["self"] == "2", seen  # bwrap's init and the harness
    assert seen["1"].split()[0].endswith("bwrap") and "harness.py" in seen["2"]
    assert "pytest" not in row["seen"] and "app worker" not in row["seen"]


def test_file_tree_is_only_the_allow_list(app, client, run_jobs, team, source):
    """The step sees its folder, /proc, /dev and the interpreter's own tree; nothing of the server."""
    probes = [
        app.instance_path,
        app.config["HALYARD_STORAGE_ROOT"],
        "/root",
        "/etc/passwd",
        "/etc/shadow",
        "/etc/hostname",
        "/home",
        "/tmp",
        "/var",
        "/run",
        "/usr/local",
        "/usr/bin/bwrap",
        "/usr/bin/sh",
    ]
    body = f"""import os, json
def transform(rows):
    tried = {{}}
    for path in {probes!r}:
        try:
            tried[path] = os.listdir(path) if os.path.isdir(path) else open(path).read(10)
        except OSError as error:
            tried[path] = type(error).__name__
    files = []
    for top in ('/usr', '/etc', '/lib', '/lib64', '/bin', '/sbin'):
        for folder, dirs, names in os.walk(top):
            files += [os.path.join(folder, n) for n in names if '/python3' not in folder]
    etc = sorted(os.listdir('/etc')) if os.path.isdir('/etc') else []
    yield {{"root": json.dumps(sorted(os.listdir('/'))), "tried": json.dumps(tried), "etc": json.dumps(etc),
           "work": json.dumps(sorted(os.listdir('.'))), "files": json.dumps(files)}}
""".encode()
    row = result_row(client, team.owner.headers, one_step(client, run_jobs, team, source, body))
    root = set(json.loads(row["root"]))
    assert {"dev", "proc", "work", "usr"} <= root, root
    assert root <= {"dev", "proc", "work", "usr", "etc", "lib", "lib64", "bin", "sbin", "lib32", "libx32"}
    assert set(json.loads(row["etc"])) <= {"ld.so.cache"}
    assert json.loads(row["tried"]) == dict.fromkeys(probes, "FileNotFoundError")
    assert json.loads(row["work"]) == ["harness.py", "input.csv", "output.csv", "params.json", "step.py"]
    files = json.loads(row["files"])
    assert files and all(
        "/lib" in f or f.startswith("/usr/bin/python3") or f == "/etc/ld.so.cache" for f in files
    ), files  # shared libraries, the interpreter, the loader's cache


def test_sweep_kills_what_a_step_uid_left_running(app):
    """The second line behind the PID namespace: what runs as a step's uid after the step is killed."""
    from app.resources.datasources import sandbox_processes

    # Below the range real steps use, and this run's own: two suites on one host (CI and a by-hand run)
    # must not sweep each other's sleeper. A uid some account or process already has is never used.
    uid = app.config["HALYARD_SANDBOX_UID_BASE"] - 7 - os.getpid() % 4096
    while of_uid(uid) or _named(uid):
        uid -= 4096
    left = subprocess.Popen(["/bin/sleep", "600"], user=uid, group=uid, extra_groups=[])
    try:
        assert sandbox_processes.sweep(uid) == 1
        assert left.wait(10) == -signal.SIGKILL and of_uid(uid) == {}
    finally:
        left.kill()
        left.wait()


@pytest.mark.parametrize(
    "setting, value, says",
    [
        ("HALYARD_SANDBOX_UID_BASE", 1000, "UID_BASE must be at least 65536"),
        ("HALYARD_SANDBOX_PYTHON", "/nonexistent/python3", "could not list its libraries"),
        ("HALYARD_SANDBOX_PYTHON", "/bin/true", "could not list its libraries"),
    ],
)
def test_sandbox_that_cannot_be_set_up_fails_closed(
    app, client, run_jobs, team, source, setting, value, says
):
    app.config[setting] = value
    job = one_step(client, run_jobs, team, source, b"def transform(rows):\n    return rows\n")
    assert job["status"] == "failed" and "sandbox is unavailable" in job["error"], job
    assert says in job["error"], job
    assert job["steps"][0]["status"] == "skipped"


PROBE = b"""import json, os, time
def transform(rows, params):
    list(rows)
    held, spawned, errors = 0, 0, []
    for _ in range(params.get("hold", 0)):  # children that sleep on: the uid's process quota is used up
        if os.fork() == 0:
            os.setsid()
            time.sleep(600)
            os._exit(0)
        held += 1
    for _ in range(params.get("spawn", 0)):  # must work while the other step holds its whole quota
        try:
            pid = os.fork()
        except OSError as error:
            errors.append(str(error))
            continue
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        spawned += 1
    open("ready", "w").close()
    mark, found, pids = params["look_for"].encode(), [], set()
    while not os.path.exists("go"):  # look for the other step's input until the test says stop
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            pids.add(pid)
            for what in ("cwd/input.csv", "root/work/input.csv", "environ", "cmdline"):
                try:
                    with open(f"/proc/{pid}/{what}", "rb") as fh:
                        if mark in fh.read():
                            found.append(f"/proc/{pid}/{what}")
                except OSError:
                    pass
        for folder in ("/tmp", "/var/tmp", "/dev/shm", "/work/..", "/"):
            try:
                found += [f"{folder}/{n}" for n in os.listdir(folder) if "halyard" in n]
            except OSError:
                pass
        time.sleep(0.05)
    yield {"held": held, "spawned": spawned, "errors": json.dumps(errors), "found": json.dumps(found),
           "pids": len(pids)}
"""


@pytest.mark.timeout_sensitive
def test_two_running_steps_cannot_see_signal_or_starve_each_other(
    app, client, team, upload, other_source, worker_process
):
    """Two users' steps at once, on two forking workers: own uids, own /proc, no shared quota, no input."""
    base = app.config["HALYARD_SANDBOX_UID_BASE"]
    other, theirs = other_source
    mine = upload(team.owner.headers, team.project.id, b"name,note\nAnn,A-TOP-SECRET-ROW-41\n", name="a")
    mine = mine.get_json()
    jobs = []
    for who, source, params in (
        (team.owner, mine, {"hold": 31, "look_for": SECRET_ROW}),
        (other, theirs, {"spawn": 10, "look_for": "A-TOP-SECRET-ROW-41"}),
    ):
        assert upload_script(client, who.headers, source, PROBE, "probe.py").status_code == 201
        r = client.post(
            f"/api/v1/datasources/{source['id']}/job",
            headers=who.headers,
            json={"steps": [{"key": "upload:probe", "exec_order": 1, "params": params}]},
        )
        assert r.status_code == 201
        jobs.append((who, r.headers["Location"]))
    workers = [worker_process("--burst", "--no-scheduler") for _ in range(2)]
    harnesses = {}
    try:

        def both_ready():
            for worker in workers:
                step = steps_under(worker.pid, base)
                if step and os.path.exists(f"/proc/{harness_of(step)}/cwd/ready"):
                    harnesses[worker.pid] = harness_of(step)
            return len(harnesses) == 2

        wait_for(both_ready, 120)
        table = host_processes()
        uids = [table[pid][0][0] for pid in harnesses.values()]
        assert len(set(uids)) == 2 and all(u > base for u in uids)  # a fresh uid per running step
        for pid, uid in zip(
            harnesses.values(), uids, strict=False
        ):  # seen from outside: that uid, no groups, no caps
            status = dict(line.split(":", 1) for line in table[pid][2].splitlines() if ":" in line)
            assert status["Uid"].split() == [str(uid)] * 4 and status["Gid"].split() == [str(uid)] * 4
            assert status["Groups"].strip() == "" and status["NoNewPrivs"].strip() == "1"
            assert int(status["CapEff"], 16) == int(status["CapPrm"], 16) == int(status["CapAmb"], 16) == 0
        assert max(len(of_uid(u)) for u in uids) == 32  # one step holds its whole process quota
    finally:
        for pid in harnesses.values():
            open(f"/proc/{pid}/cwd/go", "w").close()
    for worker in workers:
        assert worker.wait(120) == 0, worker.stdout.read().decode()[-2000:]
    rows = [
        result_row(client, who.headers, client.get(location, headers=who.headers).get_json())
        for who, location in jobs
    ]
    assert rows[0]["held"] == "31" and rows[1]["spawned"] == "10" and rows[1]["errors"] == "[]", rows
    assert [json.loads(r["found"]) for r in rows] == [[], []], rows  # neither found the other's input
    assert all(int(r["pids"]) <= 34 for r in rows)  # only its own processes (init, harness, children)
    assert all(of_uid(u) == {} for u in uids)  # and every one of them is gone
