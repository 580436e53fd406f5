"""HTTP benchmark of the data manager: Halyard vs a hand-written sqlite3 baseline (run by hand, not in CI).

    python benchmarks/datamanager_http.py [--seconds 5] [--connections 4] [--repeats 5] [--warmup 2]
                                          [--only R1,R1b] [--no-totals-cache]

Seeds one space with 100,000 assets (seeded RNG, bulk inserts), starts Halyard and the baseline
(benchmarks/datamanager_baseline.py) each with gunicorn (2 sync workers, SQLite) on loopback, drives
both with ``wrk`` (Debian package ``wrk``) and prints req/s, p50/p99 latency, body bytes, the ratio
Halyard/baseline and each server's peak worker memory (VmHWM). Each request is first warmed up on
both servers (``--warmup`` seconds: first-request costs such as SQLAlchemy statement compilation or
the one password hash of a Basic sign-in are not what is measured), then measured ``--repeats`` times,
Halyard and baseline interleaved, and every figure is the median over the repeats; the ratio is the
median of the per-repeat ratios, so load that other processes put on the machine affects both sides
of each ratio alike:

    R1  one asset by id                      R2  first page of 20, default order
    R3  title~=ab, sort=-created, page 2/20  R4  page 4000 of 20 (offset 79,980)
    R1b R1 with Basic auth instead of a token
    R5  the same 20 assets as R4 by cursor (the ``next`` link of page 3999) against the baseline's OFFSET
        page 4000: what a client following ``next`` pays at depth 80,000

Auth: both servers get the same ``Authorization`` header and do the same work with it
(benchmarks/datamanager_baseline.py): a token lookup with its account per request, or a cached Basic
check that still reads the account and the sign-in throttle's counters in Redis; and both check the
caller's membership of the space.

Next to req/s, each server's workers' CPU time (user + system, /proc) per request served: its ratio
(baseline CPU / Halyard CPU per request) is what the req/s ratio tends to on an idle machine, and it
moves far less with the load that other processes put on a shared one.

Totals: by default both servers cache the COUNT of a filter (Halyard: its totals cache; the baseline: a
dict, ``BASELINE_TOTALS_CACHE=1``); ``--no-totals-cache`` turns both off, so a cache is never on one side
only.
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from statistics import median

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

N_ASSETS = 100_000
TYPES = ("image", "video", "audio", "generic", "document", "spreadsheet")
# 64 words, exactly 8 of which contain "ab".
WORDS = (
    "cabin",
    "fable",
    "tablet",
    "label",
    "habit",
    "rabbit",
    "stable",
    "abbey",
    "apple",
    "river",
    "stone",
    "cloud",
    "maple",
    "otter",
    "piano",
    "quartz",
    "meadow",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "island",
    "jasper",
    "kettle",
    "lantern",
    "marble",
    "nectar",
    "orchid",
    "pepper",
    "quill",
    "raven",
    "saddle",
    "thistle",
    "umber",
    "velvet",
    "willow",
    "yonder",
    "zephyr",
    "acorn",
    "bramble",
    "cedar",
    "dune",
    "elm",
    "fern",
    "glacier",
    "hazel",
    "iris",
    "juniper",
    "kelp",
    "lichen",
    "moss",
    "nutmeg",
    "olive",
    "pine",
    "quince",
    "reed",
    "sage",
    "tundra",
    "upland",
    "violet",
    "walnut",
    "yarrow",
    "zinnia",
    "birch",
)
TAGS = tuple(f"tag{i:02d}" for i in range(20))
TARGETS = {"R1": 0.8, "R2": 0.6, "R3": 2.0, "R4": 1.0, "R1b": 0.7, "R5": 2.0}  # issue 18
TARGETS_NO_CACHE = {**TARGETS, "R2": 0.5}
PASSWORD = "bench-password-not-secret"
assert len(WORDS) == 64 and sum("ab" in w for w in WORDS) == 8 and len(set(WORDS)) == 64


def seed(instance, db_path):
    """Migrate, then bulk-insert the account, token, space and 100,000 assets with their tags."""
    os.environ.update(HALYARD_INSTANCE_PATH=instance, DATABASE_URL="sqlite:///" + db_path)
    import flask_migrate
    from sqlalchemy import insert

    from app import create_app
    from app.extensions import db
    from app.resources.accounts.models import Account
    from app.resources.datamanager.models import RIGHTS, Asset, AssetTag, DataManager, Member

    app = create_app()
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        account = Account(email="bench@example.org", username="bench")
        account.set_password(PASSWORD)
        db.session.add(account)
        _, token = account.issue_token(name="bench")
        dm = DataManager(title="Benchmark", description="100,000 assets", owner_id=None)
        db.session.add(dm)
        db.session.flush()
        dm.owner_id = account.id
        member = Member(datamanager_id=dm.id, account_id=account.id)
        member.rights = RIGHTS
        db.session.add(member)
        rng = random.Random(4)
        start = datetime(2024, 1, 1)
        seconds = rng.sample(range(366 * 86400), N_ASSETS)
        assets, tags = [], []
        for i in range(N_ASSETS):
            asset_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            assets.append(
                {
                    "id": asset_id,
                    "datamanager_id": dm.id,
                    "type": rng.choice(TYPES),
                    "title": f"asset-{i:06d} {rng.choice(WORDS)}",
                    "created": start + timedelta(seconds=seconds[i]),
                    "deleted": None,
                }
            )
            tags += [{"asset_id": asset_id, "tag": t} for t in rng.sample(TAGS, rng.randint(0, 3))]
        db.session.execute(insert(Asset), assets)
        db.session.execute(insert(AssetTag), tags)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        return str(dm.id), dm.id.hex, token, assets[N_ASSETS // 2]["id"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(module, port, env):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            module,
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/health-probe", timeout=10)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.terminate()
    proc.wait(10)
    raise SystemExit(f"{module} did not start on port {port}")


def stop_embedded_redis(socket_file):
    """Shut down the embedded Redis Halyard's workers started (it outlives them), without saving."""
    try:
        import redis

        redis.Redis(unix_socket_path=socket_file, socket_timeout=5).shutdown(nosave=True)
    except Exception:  # noqa: BLE001, S110 — not started (no Basic request ran), or already gone
        pass


def worker_peak_mb(master):
    """Largest peak RSS (VmHWM) among the gunicorn master's worker processes, in MB."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master.pid)], capture_output=True, text=True
    ).stdout
    peaks = []
    for pid in out.split():
        with open(f"/proc/{pid}/status") as fh:
            peaks += [int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:")]
    return max(peaks, default=0.0)


def workers_cpu_seconds(master):
    """CPU time (user + system) the gunicorn master's worker processes have used so far."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master.pid)], capture_output=True, text=True
    ).stdout
    ticks = 0
    for pid in out.split():
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url, seconds, connections, headers, server):
    """(req/s, p50 ms, p99 ms, the server's worker CPU ms per request) of one wrk run."""
    args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    cpu_before = workers_cpu_seconds(server)
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    cpu = workers_cpu_seconds(server) - cpu_before
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"non-2xx responses from {url}:\n{out}")

    def pct(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, pct(50), pct(99), cpu * 1000 / max(requests_done, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per request (default 5)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--repeats", type=int, default=5, help="measured rounds per request (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="unmeasured wrk seconds per server first (default 2)"
    )
    parser.add_argument(
        "--no-totals-cache",
        action="store_true",
        help="a COUNT on every page in both servers (HALYARD_TOTALS_CACHE_ENTRIES=0, no baseline cache)",
    )
    parser.add_argument(
        "--only", default="R1,R2,R3,R4,R1b,R5", help="comma-separated requests to run (default all)"
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: install it (Debian/Ubuntu: apt-get install -y wrk) and run again.")
    work = tempfile.mkdtemp(prefix="halyard-bench-")
    db_path = os.path.join(work, "bench.sqlite3")
    t0 = time.time()
    dm, dm_hex, token, some_id = seed(os.path.join(work, "instance"), db_path)
    print(f"seeded {N_ASSETS:,} assets in {time.time() - t0:.1f}s ({db_path})")
    from app.jobs.embedded import socket_path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYARD_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        HALYARD_INSTANCE_PATH=os.path.join(work, "instance"),
        DATABASE_URL="sqlite:///" + db_path,
        BASELINE_DB=db_path,
        BASELINE_REDIS_SOCKET=socket_path(os.path.join(work, "instance")),
        PYTHONPATH=ROOT,
        HALYARD_LOG_LEVEL="WARNING",
        HALYARD_RATE_LIMIT_ENABLED="false",  # a benchmark measures the API, not its rate limits
    )
    if options.no_totals_cache:
        env["HALYARD_TOTALS_CACHE_ENTRIES"] = "0"
    else:
        env["BASELINE_TOTALS_CACHE"] = "1"
    hy_port, base_port = free_port(), free_port()
    servers = [start("wsgi:app", hy_port, env)]
    halyard = servers[0]
    hy = f"http://127.0.0.1:{hy_port}/datamanager/{dm}/assets/"
    base = f"http://127.0.0.1:{base_port}/dm/{dm_hex}/assets/"
    requests_ = {
        "R1": (f"{hy}{some_id}", f"{base}{some_id}"),
        "R2": (f"{hy}?page=1&size=20", f"{base}?page=1&size=20"),
        "R3": (f"{hy}?page=2&size=20&sort=-created&title~=ab", f"{base}?page=2&size=20&title~=ab"),
        "R4": (f"{hy}?page=4000&size=20", f"{base}?page=4000&size=20"),
    }
    bearer = {"Authorization": f"Bearer {token}"}
    basic = requests.auth._basic_auth_str("bench", PASSWORD)
    rows = []
    try:
        baseline = start("benchmarks.datamanager_baseline:app", base_port, env)
        servers.append(baseline)
        page_3999 = requests.get(f"{hy}?page=3999&size=20", headers=bearer).json()
        requests_["R5"] = (page_3999["_links"]["next"]["href"], requests_["R4"][1])
        for name, (hy_url, base_url) in requests_.items():
            check(name, requests.get(hy_url, headers=bearer), requests.get(base_url, headers=bearer))
        for name, (hy_url, base_url) in list(requests_.items()) + [("R1b", requests_["R1"])]:
            if name not in options.only.split(","):
                continue
            headers = {"Authorization": basic} if name == "R1b" else bearer
            hy_body = len(requests.get(hy_url, headers=headers).content)
            base_body = len(requests.get(base_url, headers=headers).content)
            if options.warmup:
                wrk(hy_url, options.warmup, options.connections, headers, halyard)
                wrk(base_url, options.warmup, options.connections, headers, baseline)
            rounds = []
            for _ in range(options.repeats):  # interleaved, so both sides see the same machine load
                rounds.append(
                    (
                        wrk(hy_url, options.seconds, options.connections, headers, halyard),
                        wrk(base_url, options.seconds, options.connections, headers, baseline),
                    )
                )
            print(
                f"{name}: "
                + ", ".join(f"{h[0]:.0f}/{b[0]:.0f} ({h[3]:.2f}/{b[3]:.2f} ms CPU)" for h, b in rounds)
                + " req/s",
                flush=True,
            )
            rows.append((name, rounds, hy_body, base_body))
        memory = worker_peak_mb(halyard), worker_peak_mb(baseline)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)
        stop_embedded_redis(env["BASELINE_REDIS_SOCKET"])
    report(rows, memory, options)
    shutil.rmtree(work, ignore_errors=True)


def check(name, hy, base):
    """Both servers must give the same answer: same total and the same assets in the same order."""
    hy.raise_for_status(), base.raise_for_status()
    h, b = hy.json(), base.json()
    if "_embedded" in h:
        assert h.get("total", b["total"]) == b["total"], (
            name,
            h.get("total"),
            b["total"],
        )  # a cursor page has none
        h_ids = [a["assetID"] for a in h["_embedded"]["ec:asset"]]
        assert h_ids == [a["assetID"] for a in b["items"]], name
    else:
        assert (h["assetID"], h["tags"]) == (b["assetID"], b["tags"]), name


def verdict(ratio, target):
    return "met" if ratio >= target else "MISSED"


def report(rows, memory, options):
    print(
        f"\nwrk -t2 -c{options.connections} -d{options.seconds}s, median of {options.repeats} interleaved"
        f" runs; "
        "gunicorn 2 sync workers each; SQLite"
        + (
            "; totals caches OFF (a COUNT per page on both sides)"
            if options.no_totals_cache
            else "; totals cached on both sides"
        )
        + f"; load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| request | Halyard req/s | p50 ms | p99 ms | CPU ms/req | body B | baseline req/s | p50 ms "
        "| p99 ms | CPU ms/req | body B | ratio | target | CPU ratio | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rounds, h_body, b_body in rows:
        (h_rps, h50, h99, h_cpu), (b_rps, b50, b99, b_cpu) = [
            [median(r[side][i] for r in rounds) for i in range(4)] for side in (0, 1)
        ]
        ratio = median(h[0] / b[0] for h, b in rounds)
        cpu_ratio = median(b[3] / h[3] for h, b in rounds if h[3])
        target = (TARGETS_NO_CACHE if options.no_totals_cache else TARGETS)[name]
        print(
            f"| {name} | {h_rps:.0f} | {h50:.2f} | {h99:.2f} | {h_cpu:.2f} | {h_body} | {b_rps:.0f} |"
            f" {b50:.2f} | {b99:.2f} | {b_cpu:.2f} | {b_body} | {ratio:.2f} | ≥ {target}"
            f" {verdict(ratio, target)} | {cpu_ratio:.2f} | {verdict(cpu_ratio, target)} |"
        )
    print(
        f"\npeak worker memory (VmHWM): Halyard {memory[0]:.0f} MB, baseline {memory[1]:.0f} MB "
        f"(target < 150 MB: {'met' if memory[0] < 150 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
