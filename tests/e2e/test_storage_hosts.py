"""End to end: the web server as ``halyard start`` runs it (gunicorn gthread, ``app.cli.web_command``).

- A slow client downloads a file that takes far longer than the worker timeout: it arrives whole, and
  ``GET /`` keeps answering meanwhile (a sync worker cut such a file at its 30 s timeout and froze
  the API while two slow downloads ran).
- Two "hosts" (two server processes with instance folders of their own, sharing only the database,
  Redis and the S3 server) see the same files: what one stores, the other serves and deletes.
"""

import hashlib
import io
import os
import random
import subprocess
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from app.cli import web_command
from tests.conftest import free_port, stop, subprocess_env
from tests.resources.datamanager_support import create_space, png, upload
from tests.storage_support import new_bucket, objects, s3_settings

pytestmark = pytest.mark.e2e
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1024 * 1024
TIMEOUT = 60  # per request; a loaded machine answers slowly


def start_web(app, instance, **settings):
    """One gunicorn server (1 process) of the test's app configuration; its base URL and process."""
    port = free_port()
    env = subprocess_env(app, **{k: str(v) for k, v in settings.items()})
    env["HALYARD_INSTANCE_PATH"] = str(instance)
    os.makedirs(instance, exist_ok=True)
    command = web_command({**app.config, **settings}, "127.0.0.1", port, 1)
    log = open(os.path.join(instance, "web.log"), "wb")  # noqa: SIM115 - the process writes it until stopped
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, open(os.path.join(instance, "web.log")).read()
        try:
            if requests.get(base + "/", timeout=TIMEOUT).status_code == 200:
                return base, proc
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.25)


def on(base, url):
    """``url`` (absolute or not) as served by the server at ``base``."""
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def slow_download(url, headers, rate, out):
    """GET ``url`` reading at most ``rate`` bytes/s; out gets (status, sha256, size, seconds)."""
    started, digest, size = time.monotonic(), hashlib.sha256(), 0
    with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as answer:
        for chunk in answer.iter_content(64 * 1024):
            digest.update(chunk)
            size += len(chunk)
            ahead = size / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        out.append((answer.status_code, digest.hexdigest(), size, time.monotonic() - started))


@pytest.fixture
def config_overrides(tmp_path):
    return {"HALYARD_STORAGE_ROOT": str(tmp_path / "files")}


def test_a_slow_download_outlives_the_worker_timeout_and_blocks_nothing(
    app, client, make_account, token_for, tmp_path
):
    headers = token_for(make_account(type="ADMIN"))
    data = random.Random(16).randbytes(50 * MiB)
    space = create_space(client, headers)
    r = upload(client, space["_links"]["ec:assets"]["href"], headers, (data, "big.bin"))
    file_url = client.get(r.headers["Location"], headers=headers).get_json()["files"][0]["url"]
    timeout = 4
    base, proc = start_web(app, tmp_path / "web", HALYARD_WEB_TIMEOUT_SECONDS=timeout, HALYARD_WEB_THREADS=4)
    try:
        results, rate = [], 4 * MiB  # 50 MiB at 4 MiB/s: 12.5 s, three times the worker timeout
        readers = [
            threading.Thread(target=slow_download, args=(on(base, file_url), headers, rate, results))
            for _ in range(2)
        ]
        for reader in readers:
            reader.start()
        slowest = 0.0
        while any(reader.is_alive() for reader in readers):
            started = time.monotonic()
            assert requests.get(base + "/", timeout=TIMEOUT).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.2)
        for reader in readers:
            reader.join()
        expected = hashlib.sha256(data).hexdigest()
        assert [(status, digest, size) for status, digest, size, _ in results] == [
            (200, expected, len(data))
        ] * 2
        assert min(seconds for *_, seconds in results) > 2 * timeout  # the download outlived the timeout
        assert slowest < 5, slowest  # the two downloads held threads, not the process (sync: > 10 s)
        assert proc.poll() is None
    finally:
        stop(proc)


@pytest.fixture
def s3_config(s3_server):
    return s3_settings(s3_server, new_bucket(s3_server))


def test_two_hosts_sharing_object_storage_see_the_same_files(
    app, make_account, token_for, tmp_path, s3_server, s3_config
):
    headers = token_for(make_account(type="ADMIN"))
    host_a, proc_a = start_web(app, tmp_path / "host-a", **s3_config)
    try:
        host_b, proc_b = start_web(app, tmp_path / "host-b", **s3_config)
        try:
            space = requests.post(
                host_a + "/datamanager/",
                json={"title": "shared", "description": ""},
                headers=headers,
                timeout=TIMEOUT,
            )
            assert space.status_code == 201, space.text
            picture = png(40, 30)
            made = requests.post(
                on(host_a, space.json()["_links"]["ec:assets"]["href"]),
                files={"file": ("pic.png", io.BytesIO(picture), "image/png")},
                headers=headers,
                timeout=TIMEOUT,
            )
            assert made.status_code == 201, made.text
            where = on(host_b, made.headers["Location"])
            asset = requests.get(where, headers=headers, timeout=TIMEOUT).json()
            assert asset["files"][0]["resolution"] == {"width": 40, "height": 30}  # read from the bucket
            url = asset["files"][0]["url"]
            served = requests.get(on(host_b, url), headers=headers, timeout=TIMEOUT, allow_redirects=False)
            assert served.status_code == 302 and served.headers["Location"].startswith(s3_server + "/")
            from_store = requests.get(served.headers["Location"], timeout=TIMEOUT)
            assert from_store.content == picture and from_store.headers["Content-Type"] == "image/png"
            bucket = s3_config["HALYARD_STORAGE_URL"].split("/")[2]
            assert len(objects(s3_server, bucket)) == 1
            gone = requests.delete(where, headers=headers, timeout=TIMEOUT)  # to ec:assets/deleted
            assert gone.status_code in (200, 204), gone.text
            purge = on(host_a, made.headers["Location"].replace("/assets/", "/assets/deleted/"))
            purged = requests.delete(purge + "?destroy=destroy", headers=headers, timeout=TIMEOUT)
            assert purged.status_code == 204, purged.text
            missing = requests.get(on(host_b, url), headers=headers, timeout=TIMEOUT, allow_redirects=False)
            assert missing.status_code == 404
            assert objects(s3_server, bucket) == {}
            assert not os.path.exists(tmp_path / "files")
            for host in ("host-a", "host-b"):  # nothing was kept on either host's disk
                assert not os.path.exists(tmp_path / host / "files")
                scratch = tmp_path / host / "scratch"
                assert not scratch.exists() or not os.listdir(scratch)
        finally:
            stop(proc_b)
    finally:
        stop(proc_a)
