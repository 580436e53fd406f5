"""The storage interface on both stores, and the ways a stored file leaves Halyard (docs/storage.md).

``file``: a local folder; ``s3``: a bucket of the suite's real S3 server (moto's standalone server on
127.0.0.1, the ``s3_server`` fixture), reached through boto3 exactly as in production. The hostile
files of tests/test_file_serving_safety.py are served again by every other way of serving: 302 to a
presigned URL of the store, streamed from the store, and handed to nginx (X-Accel-Redirect) or Apache
(X-Sendfile).
"""

import hashlib
import io
import os
import random
import time

import pytest
import requests
from sqlalchemy import select
from werkzeug.http import parse_options_header

from app import storage
from app.extensions import db
from app.jobs import sweep
from tests import test_file_serving_safety as safety
from tests.file_routes import INLINE, assert_inert
from tests.hostile_files import api_server
from tests.storage_support import client as s3_client
from tests.storage_support import new_bucket, objects, s3_settings

MiB = 1024 * 1024
TIMEOUT = 30


@pytest.fixture(params=["file", "s3"])
def way(request):
    return request.param


@pytest.fixture
def config_overrides(way, tmp_path, request):
    """``way``: file, s3 (redirect downloads), s3-stream, nginx or apache."""
    settings = {"HALYARD_STORAGE_ROOT": str(tmp_path / "files")}  # unused (and so never made) on s3
    if way.startswith("s3"):
        endpoint = request.getfixturevalue("s3_server")
        downloads = "stream" if way == "s3-stream" else "redirect"
        settings |= s3_settings(
            endpoint,
            new_bucket(endpoint),
            HALYARD_S3_MULTIPART_BYTES=5 * MiB,
            HALYARD_STORAGE_DOWNLOADS=downloads,
        )
    else:
        settings["HALYARD_STORAGE_SENDFILE"] = way if way in ("nginx", "apache") else "off"
    return {**settings, "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1", "HALYARD_SANDBOX_WALL_SECONDS": 20}


def scratch_entries():
    """The temporary entries of the scratch folder (on a folder store it also holds the stored files)."""
    return sorted(name for name in os.listdir(storage.scratch_root()) if name.startswith("."))


# --- the contract, on both stores -------------------------------------------------------------------


def test_save_read_copy_delete(app, way):
    data = random.Random(1).randbytes(12 * MiB + 5)  # past the 5 MiB multipart size on s3: 3 parts
    before = scratch_entries()
    stored = storage.save(io.BytesIO(data))
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert storage.exists(stored.key) and storage.size(stored.key) == len(data)
    assert stored.key in storage.all_keys()
    with storage.open_file(stored.key) as fh:  # streaming and seekable
        assert fh.read(10) == data[:10]
        fh.seek(6 * MiB)
        assert fh.read(5) == data[6 * MiB : 6 * MiB + 5]
        fh.seek(-3, io.SEEK_END)
        assert fh.read() == data[-3:]
        fh.seek(0)
        assert hashlib.sha256(fh.read()).hexdigest() == stored.sha256
    with storage.local_copy(stored.key) as path, open(path, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == stored.sha256
    assert os.path.exists(path) == (way == "file")  # object storage: the temporary copy is gone
    if way == "s3":
        bucket = app.config["HALYARD_STORAGE_URL"].split("/")[2]
        endpoint = app.config["HALYARD_S3_ENDPOINT_URL"]
        name = f"files/{stored.key[:2]}/{stored.key}"
        assert objects(endpoint, bucket) == {name: len(data)}
        assert s3_client(endpoint).head_object(Bucket=bucket, Key=name)["ETag"].endswith('-3"')  # multipart
        assert not os.path.exists(app.config["HALYARD_STORAGE_ROOT"])  # nothing kept on the local disk
    storage.delete(stored.key)
    storage.delete(stored.key)  # idempotent
    assert not storage.exists(stored.key) and stored.key not in storage.all_keys()
    with pytest.raises(FileNotFoundError):
        storage.size(stored.key)
    with pytest.raises(FileNotFoundError), storage.local_copy(stored.key):
        pass
    assert scratch_entries() == before


def test_a_refused_save_keeps_nothing(app, way):
    keys, before = storage.all_keys(), scratch_entries()
    with pytest.raises(ValueError, match="too large"):
        storage.save(io.BytesIO(b"x" * 3000), max_bytes=2048)
    assert storage.all_keys() == keys and scratch_entries() == before


def test_save_path_moves_a_job_file_in(app, way):
    with storage.scratch(".download-0-") as work:
        assert os.path.isdir(work) and os.path.dirname(work) == storage.scratch_root()
        path = os.path.join(work, "result.csv")
        with open(path, "wb") as fh:
            fh.write(b"a,b\n1,2\n")
        stored = storage.save_path(path)
        assert not os.path.exists(path)
    assert not os.path.exists(work)
    with storage.open_file(stored.key) as fh:
        assert fh.read() == b"a,b\n1,2\n"
    storage.delete(stored.key)


@pytest.mark.parametrize("key", ["", "../etc/passwd", "AB12", "x" * 32])
def test_only_storage_keys_are_accepted(app, way, key):
    for call in (storage.exists, storage.delete, storage.open_file, storage.size):
        with pytest.raises(ValueError):
            call(key)


@pytest.mark.parametrize("way", ["s3"])
def test_files_made_through_the_api_live_only_in_the_bucket(app, client, run_jobs, make_account, token_for):
    """An asset, a data source's file/table/preview, a step's outputs and a download: all objects."""
    headers, before = token_for(make_account(type="ADMIN")), scratch_entries()
    world = safety.World(client, run_jobs, headers, "http://127.0.0.1:9")
    cases = safety.asset_files(world)[:1] + safety.run_files("table")(world) + safety.downloads(world)
    endpoint, bucket = app.config["HALYARD_S3_ENDPOINT_URL"], app.config["HALYARD_STORAGE_URL"].split("/")[2]
    stored = objects(endpoint, bucket)
    referenced = {
        key
        for column in sweep.key_columns()
        for key in db.session.scalars(select(column).where(column.is_not(None)))
        if len(key) == 32  # storage keys (uuid4 hex), not the jobs table's 64-hex dedupe keys
    }
    # assets, 2 sources x (file, table, preview), the run's result, table and preview, 2 downloads
    assert len(referenced) >= 1 + 6 + 3 + 2
    assert set(stored) == {f"files/{key[:2]}/{key}" for key in referenced}
    assert not os.path.exists(app.config["HALYARD_STORAGE_ROOT"])
    for label, url in cases:
        answer = client.get(url, headers=headers)
        assert answer.status_code == 302, (label, answer.status_code)
        body = requests.get(answer.headers["Location"], timeout=TIMEOUT)
        assert body.status_code == 200 and body.content, label
    assert scratch_entries() == before  # every work folder and local copy was removed


# --- every way of serving keeps files inert --------------------------------------------------------


@pytest.fixture
def hostile_server():
    with api_server(safety.LISTENER) as base:
        yield base


def check_elsewhere(client, headers, cases, way, app):
    """Like safety.check_route, for a file another server sends: {label: (mimetype, disposition)}."""
    seen = {}
    for label, url in cases:
        answer = client.get(url, headers=headers)
        etag = answer.headers["ETag"]
        assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 304, label
        if way == "s3":  # the 302 and the store's answer
            assert answer.status_code == 302 and answer.headers["Cache-Control"] == "no-store", label
            assert answer.headers["Location"].startswith(app.config["HALYARD_S3_ENDPOINT_URL"] + "/")
            assert all(answer.headers[name] == value for name, value in storage.FILE_HEADERS.items()), label
            served = requests.get(answer.headers["Location"], timeout=TIMEOUT)
            assert served.status_code == 200 and served.content, label
            part = requests.get(answer.headers["Location"], headers={"Range": "bytes=0-3"}, timeout=TIMEOUT)
            assert part.status_code == 206 and part.content == served.content[:4], label
            type_headers = served.headers
        else:  # nginx/Apache send the file named in the empty answer, with its headers
            assert answer.status_code == 200 and answer.data == b"", label
            type_headers = answer.headers
            assert_inert(answer.headers, label)
            path = _sent_path(app, way, answer.headers)
            assert os.path.isfile(path) and os.path.getsize(path) > 0, label
            assert (
                client.head(url, headers=headers).headers.get(_SENDFILE[way])
                == answer.headers[_SENDFILE[way]]
            )
        seen[label] = _type_and_disposition(type_headers, label)
    return seen


_SENDFILE = {"nginx": "X-Accel-Redirect", "apache": "X-Sendfile"}


def _sent_path(app, way, headers):
    root = app.config["HALYARD_STORAGE_ROOT"]
    if way == "apache":
        path = headers["X-Sendfile"]
        assert os.path.isabs(path)
    else:
        prefix = app.config["HALYARD_STORAGE_SENDFILE_PREFIX"]
        assert headers["X-Accel-Redirect"].startswith(prefix)
        path = os.path.join(root, headers["X-Accel-Redirect"][len(prefix) :])
    assert os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)
    return path


def _type_and_disposition(headers, label):
    disposition = headers.get("Content-Disposition", "inline").split(";")[0].strip().lower()
    mimetype, params = parse_options_header(headers.get("Content-Type", ""))
    assert disposition in ("inline", "attachment"), label
    if disposition == "inline":
        assert mimetype in INLINE, (label, mimetype)
        if mimetype.startswith("text/"):
            assert params.get("charset") == "utf-8", label
    return mimetype, disposition


@pytest.mark.parametrize("way", ["s3", "s3-stream", "nginx", "apache"])
@pytest.mark.parametrize("endpoint", ["datamanager.file", "datasources.source_file", "downloader.file"])
def test_hostile_files_are_inert_every_way_they_are_served(
    app, client, run_jobs, make_account, token_for, hostile_server, way, endpoint
):
    headers = token_for(make_account(type="ADMIN"))
    cases = safety.CASES[endpoint](safety.World(client, run_jobs, headers, hostile_server))
    if way == "s3-stream":
        seen = safety.check_route(client, headers, cases)
    else:
        seen = check_elsewhere(client, headers, cases, way, app)
    safety.check_seen(endpoint, seen)


@pytest.mark.parametrize("way", ["s3"])
def test_a_presigned_url_expires(app, client, make_account, token_for):
    from tests.resources.datamanager_support import create_space, make_asset

    app.config["HALYARD_STORAGE_PRESIGN_SECONDS"] = 1
    headers = token_for(make_account(type="ADMIN"))
    asset = make_asset(client, create_space(client, headers), headers, b"%PDF-1.4 tiny", "a.pdf")
    location = client.get(asset["files"][0]["url"], headers=headers).headers["Location"]
    assert "Expires=" in location or "X-Amz-Expires=1" in location
    deadline = time.monotonic() + 60
    while requests.get(location, timeout=TIMEOUT).status_code == 200:  # expiry is whole seconds
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert requests.get(location, timeout=TIMEOUT).status_code == 403


@pytest.mark.parametrize("way", ["file", "s3-stream"])
def test_a_streamed_download_is_cut_at_the_download_timeout(app, client, make_account, token_for):
    from tests.resources.datamanager_support import create_space, make_asset

    headers = token_for(make_account(type="ADMIN"))
    asset = make_asset(client, create_space(client, headers), headers, b"%PDF-1.4 tiny", "a.pdf")
    url = asset["files"][0]["url"]
    assert client.get(url, headers=headers).data == b"%PDF-1.4 tiny"
    app.config["HALYARD_DOWNLOAD_TIMEOUT_SECONDS"] = 0
    with pytest.raises(TimeoutError):  # the body stops (gunicorn closes the connection)
        client.get(url, headers=headers, buffered=False).get_data()
    app.config["HALYARD_DOWNLOAD_TIMEOUT_SECONDS"] = 3600
    assert client.get(url, headers=headers).data == b"%PDF-1.4 tiny"
