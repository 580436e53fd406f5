"""The operator's CLI (app/operate.py), run as real ``python -m app`` processes against the test's database
and Redis: users, jobs, the download sweep, secrets rotation, backup/restore, ``db upgrade`` to every head
(three at once)."""

import json
import os
import subprocess
import sys
from base64 import b64encode

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from app.resources.accounts.models import Account
from tests.conftest import ROOT, subprocess_env


def halyard(env, *args, input=None, extra_env=None):
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**env, **(extra_env or {})},
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(app):
    return subprocess_env(app)


def basic(login, password):
    return {"Authorization": "Basic " + b64encode(f"{login}:{password}".encode()).decode()}


def test_users_create_set_password_and_deactivate(app, client, env, unchanged):
    made = halyard(
        env,
        *("users", "create", "--email", "Ops@Example.org", "--token", "--scopes", "read"),
        extra_env={"HALYARD_USER_PASSWORD": "first password"},
    )
    assert made.returncode == 0, made.stderr
    db.session.remove()
    account = Account.find_login("ops@example.org")
    assert account.type == "RESEARCHER" and account.active
    token = {"Authorization": "Bearer " + made.stdout.split("token: ")[1].strip()}
    assert client.get(f"/api/v1/user/{account.id}/", headers=token).status_code == 200
    refused = client.post(f"/api/v1/user/{account.id}/tokens/", json={}, headers=token)
    assert refused.get_json()["@event"] == "INSUFFICIENT_SCOPE"  # --scopes read

    with unchanged():
        again = halyard(
            env, "users", "create", "--email", "ops@example.org", extra_env={"HALYARD_USER_PASSWORD": "x" * 9}
        )
        short = halyard(
            env, "users", "create", "--email", "n@example.org", extra_env={"HALYARD_USER_PASSWORD": "x"}
        )
        unknown = halyard(env, "users", "deactivate", "nobody@example.org")
    assert again.returncode == 1 and "exists already" in again.stderr
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert unknown.returncode == 1 and "No account" in unknown.stderr

    reset = halyard(
        env, "users", "set-password", "ops@example.org", input="second password\nsecond password\n"
    )
    assert reset.returncode == 0, reset.stderr
    assert client.get("/jobs/", headers=basic("ops@example.org", "second password")).status_code == 200
    assert client.get("/jobs/", headers=basic("ops@example.org", "first password")).status_code == 401

    off = halyard(env, "users", "deactivate", "ops@example.org")
    assert off.returncode == 0, off.stderr
    assert client.get("/jobs/", headers=token).status_code == 401


def test_the_last_active_admin_stays_active(app, env, make_account, unchanged):
    admin = make_account(type="ADMIN")
    with unchanged():
        refused = halyard(env, "users", "deactivate", admin.email)
    assert refused.returncode == 1 and "last active ADMIN" in refused.stderr


def test_jobs_list_show_cancel_requeue_and_run(app, env, make_account):
    from app.jobs import enqueue, get_queue
    from app.jobs.models import JobRecord
    from app.jobs.probe import probe

    owner = make_account()
    record = enqueue(probe, 1, 0.0, kind="probe", owner=owner)
    job_id = record.id

    listed = halyard(env, "jobs", "list", "--status", "queued")
    assert listed.returncode == 0 and listed.stdout.split("\t")[:3] == [job_id, "queued", "probe"]
    shown = json.loads(halyard(env, "jobs", "show", job_id).stdout)
    assert shown["status"] == "queued" and shown["rq"]["status"] == "queued"
    assert halyard(env, "jobs", "show", "no-such-job").returncode == 1

    cancelled = halyard(env, "jobs", "cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr
    db.session.remove()
    assert db.session.get(JobRecord, job_id).status == "canceled"
    assert job_id not in get_queue().job_ids
    assert halyard(env, "jobs", "cancel", job_id).returncode == 1  # canceled already

    requeued = halyard(env, "jobs", "requeue", job_id)
    assert requeued.returncode == 0, requeued.stderr
    db.session.remove()
    assert db.session.get(JobRecord, job_id).status == "queued" and job_id in get_queue().job_ids
    assert halyard(env, "jobs", "requeue", job_id).returncode == 1  # queued: nothing to requeue

    worked = halyard(env, "worker", "--burst", "--no-scheduler")
    assert worked.returncode == 0, worked.stderr
    db.session.remove()
    assert db.session.get(JobRecord, job_id).status == "finished"


def test_downloads_sweep_removes_left_work_folders(app, env):
    from app import storage

    left = os.path.join(storage.scratch_root(), ".download-987654-abcdef")
    os.makedirs(left)
    swept = halyard(env, "downloads", "sweep")
    assert swept.returncode == 0, swept.stderr
    assert "Swept the files of 0 cancelled download(s)." in swept.stdout
    assert not os.path.exists(left)


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1", "SECRET_KEY": "the-old-key"}


def test_secrets_rotate_with_two_keys(app, client, env, user_headers):
    from app.resources.scheduler import models as scheduler

    body = {"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours", "auth_token": "tok-123"}
    made = client.post("/api/v1/schedule/", json=body, headers=user_headers)
    assert made.status_code == 201, made.get_json()
    signing = made.get_json()["signing_secret"]
    before = db.session.scalars(db.select(scheduler.Schedule)).one().auth_token_encrypted

    lost = halyard(env, "secrets", "rotate", extra_env={"SECRET_KEY": "a-key-that-never-was"})
    assert lost.returncode == 1 and "none of the configured" in lost.stderr
    db.session.remove()
    assert db.session.scalars(db.select(scheduler.Schedule)).one().auth_token_encrypted == before

    rotated = halyard(env, "secrets", "rotate", extra_env={"SECRET_KEY": '["the-new-key", "the-old-key"]'})
    assert rotated.returncode == 0, rotated.stderr
    assert "schedules.auth_token_encrypted: 1 re-encrypted" in rotated.stdout
    assert "datasources.connection_secret: 0 re-encrypted" in rotated.stdout

    db.session.remove()
    row = db.session.scalars(db.select(scheduler.Schedule)).one()
    assert row.auth_token_encrypted != before
    app.config.update(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=[])  # the old key is gone now
    assert scheduler.decrypt(row.auth_token_encrypted) == "tok-123"
    assert scheduler.decrypt(row.secret_encrypted) == signing
    app.config.update(SECRET_KEY="the-old-key")
    assert scheduler.decrypt(row.auth_token_encrypted) is None


def test_a_key_list_decrypts_with_either_and_encrypts_with_the_newest(app):
    from app.config import finalize
    from app.resources.scheduler import models as scheduler

    old = scheduler.encrypt("value")
    config = {
        "SECRET_KEY": '["the-new-key", "the-old-key"]',
        "DATABASE_URL": "sqlite://",
        "HALYARD_MAX_UPLOAD_BYTES": 1,
    }
    finalize(config, app.instance_path)
    assert config["SECRET_KEY"] == "the-new-key" and config["SECRET_KEY_FALLBACKS"] == ["the-old-key"]
    app.config.update(SECRET_KEY=config["SECRET_KEY"], SECRET_KEY_FALLBACKS=config["SECRET_KEY_FALLBACKS"])
    new = scheduler.encrypt("value")
    assert scheduler.decrypt(old) == scheduler.decrypt(new) == "value"
    app.config.update(SECRET_KEY_FALLBACKS=[])
    assert scheduler.decrypt(new) == "value" and scheduler.decrypt(old) is None


def _fresh_env(app, tmp_path, fresh_database, name):
    url = fresh_database(str(tmp_path), name)
    storage_root = tmp_path / f"{name}-files"
    storage_root.mkdir()
    return {**subprocess_env(app), "DATABASE_URL": url, "HALYARD_STORAGE_ROOT": str(storage_root)}, url


def assert_at_every_head(app, url):
    """Every branch head applied (a head another branch depends on is applied without being stored)."""
    from alembic.script import ScriptDirectory

    migrate = app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    engine.dispose()
    applied = {rev.revision for rev in script.iterate_revisions(tuple(stored), "base")}
    assert stored <= set(script.get_heads()) <= applied


def test_db_upgrade_applies_every_head_and_three_at_once_wait_for_one(app, tmp_path, fresh_database):
    """Three hosts migrating one empty database at once (as three `halyard start` do): the migration lock
    (app/migrations/env.py) lets one run every migration; the others wait, then find nothing to do."""
    env, url = _fresh_env(app, tmp_path, fresh_database, "upgrade")
    three = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=300) for proc in three]
    assert [proc.returncode for proc in three] == [0, 0, 0], outputs
    ran = [err.count("Running upgrade") for _, err in outputs]  # Alembic's INFO line per migration
    assert sorted(ran)[:2] == [0, 0] and max(ran) > 0, ran  # one migrated, two waited
    assert_at_every_head(app, url)


def test_backup_and_restore(app, tmp_path, fresh_database):
    env, url = _fresh_env(app, tmp_path, fresh_database, "backup")
    assert halyard(env, "db", "upgrade").returncode == 0
    made = halyard(
        env, "users", "create", "--email", "kept@example.org", extra_env={"HALYARD_USER_PASSWORD": "x" * 10}
    )
    assert made.returncode == 0, made.stderr
    stored = os.path.join(env["HALYARD_STORAGE_ROOT"], "ab", "kept.bin")
    os.makedirs(os.path.dirname(stored))
    with open(stored, "wb") as fh:
        fh.write(b"stored bytes")

    target = str(tmp_path / "backup-1")
    taken = halyard(env, "backup", target)
    assert taken.returncode == 0, taken.stderr
    assert halyard(env, "backup", target).returncode == 1  # never over an existing folder

    halyard(
        env, "users", "create", "--email", "later@example.org", extra_env={"HALYARD_USER_PASSWORD": "x" * 10}
    )
    os.unlink(stored)
    with open(os.path.join(env["HALYARD_STORAGE_ROOT"], "later.bin"), "wb") as fh:
        fh.write(b"later")

    def emails():
        engine = create_engine(url)
        with engine.connect() as connection:
            found = sorted(connection.scalars(text("SELECT email FROM accounts")))
        engine.dispose()
        return found

    unconfirmed = halyard(env, "restore", target)
    assert unconfirmed.returncode == 2 and emails() == ["kept@example.org", "later@example.org"]
    restored = halyard(env, "restore", target, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert emails() == ["kept@example.org"]
    assert open(stored, "rb").read() == b"stored bytes"
    assert not os.path.exists(os.path.join(env["HALYARD_STORAGE_ROOT"], "later.bin"))
    assert halyard(env, "db", "upgrade").returncode == 0  # the restored database is at the heads already
