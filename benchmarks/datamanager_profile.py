"""In-process CPU profile of the data manager benchmark's requests (run by hand, not in CI).

    python benchmarks/datamanager_profile.py [--n 2000] [--cprofile R1] [--sample R2] [--keep DIR]
                                             [--no-totals-cache]

Seeds the benchmark's 100,000 assets (benchmarks/datamanager_http.py, or reuses ``--keep DIR``), then
calls Halyard's WSGI callable and the baseline's directly, without a server or sockets, and prints the
median CPU time (``time.process_time``, so other processes' load does not count) per request of R1–R4,
R1b and R5 for both, and their ratio, each server sent the same ``Authorization`` header (the baseline
does the same auth work, benchmarks/datamanager_baseline.py). Both servers cache totals, or with
``--no-totals-cache`` neither.
``--cprofile R1`` prints the top functions of one request kind; ``--sample R2`` samples its stack every 50 µs
of CPU instead (``ITIMER_PROF``) and prints each function's share of the samples, with and without what it
calls: cProfile's cost per Python call inflates call-heavy code (rendering, LocalProxy lookups) against C
(SQLite, JSON), a sample does not.
This is where the HTTP benchmark's ratios come from, minus gunicorn's and the kernel's share.
"""

import argparse
import collections
import cProfile
import functools
import io
import json
import os
import pstats
import signal
import sys
import time
from statistics import median

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import datamanager_http as bench  # noqa: E402


def call(app, path, headers):
    """One WSGI call with a minimal environ; returns (status, body bytes)."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
    }
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    status = []
    body = b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
    return status[0], body


def cpu_per_call(app, path, headers, n):
    samples = []
    for _ in range(n // 50):
        t0 = time.process_time()
        for _ in range(50):
            call(app, path, headers)
        samples.append((time.process_time() - t0) / 50)
    return median(samples) * 1000


def sample(app, path, headers, n):
    """Each function's share of the stack samples of ``n`` calls: inclusive (it or what it calls) and self."""
    inclusive, own, total = collections.Counter(), collections.Counter(), [0]

    def record(signum, frame):
        total[0] += 1
        own[_where(frame.f_code)] += 1
        seen = set()
        while frame is not None:
            seen.add(_where(frame.f_code))
            frame = frame.f_back
        inclusive.update(seen)

    signal.signal(signal.SIGPROF, record)
    signal.setitimer(signal.ITIMER_PROF, 0.00005, 0.00005)
    for _ in range(n):
        call(app, path, headers)
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    print(f"{total[0]} samples\n| inclusive % | self % | function |\n|---|---|---|")
    for where, count in inclusive.most_common(60):
        print(f"| {100 * count / total[0]:.1f} | {100 * own[where] / total[0]:.1f} | {where} |")


def _where(code):
    path = code.co_filename
    short = path.split("site-packages/")[-1] if "site-packages/" in path else os.path.relpath(path)
    return f"{short}:{code.co_firstlineno}({code.co_name})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per request kind (default 2000)")
    parser.add_argument("--cprofile", help="print a cProfile of this request kind (R1, R2, R3, R4, R1b)")
    parser.add_argument(
        "--only",
        help="run --n calls of this request kind on one server (halyard or baseline: "
        "R1:halyard) and nothing else, for an instruction count under valgrind",
    )
    parser.add_argument("--sample", help="print a sampling profile of this request kind (R1, R2, ...)")
    parser.add_argument("--keep", help="seed into this directory once and reuse it on later runs")
    parser.add_argument("--no-totals-cache", action="store_true", help="a COUNT per page in both servers")
    options = parser.parse_args()
    work = options.keep or "/tmp/halyard-profile"
    db_path = os.path.join(work, "bench.sqlite3")
    marker = os.path.join(work, "seeded.txt")
    if not (options.keep and os.path.exists(marker)):
        os.makedirs(work, exist_ok=True)
        if os.path.exists(db_path):
            os.remove(db_path)
        with open(marker, "w") as fh:
            fh.write(" ".join(map(str, bench.seed(os.path.join(work, "instance"), db_path))))
    dm, dm_hex, token, some_id = open(marker).read().split()
    from app.jobs.embedded import socket_path

    os.environ.update(
        HALYARD_INSTANCE_PATH=os.path.join(work, "instance"),
        DATABASE_URL="sqlite:///" + db_path,
        BASELINE_DB=db_path,
        BASELINE_REDIS_SOCKET=socket_path(os.path.join(work, "instance")),
        HALYARD_LOG_LEVEL="WARNING",
        HALYARD_RATE_LIMIT_ENABLED="false",  # a benchmark measures the API, not its rate limits
    )
    if options.no_totals_cache:
        os.environ["HALYARD_TOTALS_CACHE_ENTRIES"] = "0"
    else:
        os.environ["BASELINE_TOTALS_CACHE"] = "1"
    from app import create_app
    from benchmarks.datamanager_baseline import app as baseline

    halyard = create_app()
    hy, base = f"/datamanager/{dm}/assets/", f"/dm/{dm_hex}/assets/"
    bearer = {"Authorization": f"Bearer {token}"}
    basic = {"Authorization": bench.requests.auth._basic_auth_str("bench", bench.PASSWORD)}
    kinds = {
        "R1": (f"{hy}{some_id}", f"{base}{some_id}", bearer),
        "R2": (f"{hy}?page=1&size=20", f"{base}?page=1&size=20", bearer),
        "R3": (f"{hy}?page=2&size=20&sort=-created&title~=ab", f"{base}?page=2&size=20&title~=ab", bearer),
        "R4": (f"{hy}?page=4000&size=20", f"{base}?page=4000&size=20", bearer),
        "R1b": (f"{hy}{some_id}", f"{base}{some_id}", basic),
    }
    page_3999 = json.loads(call(halyard, f"{hy}?page=3999&size=20", bearer)[1])
    kinds["R5"] = (page_3999["_links"]["next"]["href"].split("8000", 1)[1], kinds["R4"][1], bearer)
    for name, (h, b, headers) in kinds.items():
        if options.only and not options.only.startswith(name + ":"):
            continue
        for _ in range(20):  # warm: statement caches, the one password hash
            assert call(halyard, h, headers)[0].startswith("200"), call(halyard, h, headers)
            assert call(baseline, b, headers)[0].startswith("200"), call(baseline, b, headers)
    if options.only:
        name, server = options.only.split(":")
        h, b, headers = kinds[name]
        app, path, headers = (halyard, h, headers) if server == "halyard" else (baseline, b, headers)
        # Inside functools.reduce (C: functools_reduce), which no request calls, so that
        # `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce` counts
        # the instructions of exactly these calls.
        t0 = time.process_time()
        functools.reduce(lambda _, __: call(app, path, headers), range(options.n), None)
        print(f"{options.only}: {(time.process_time() - t0) / max(options.n, 1) * 1000:.3f} ms CPU per call")
        return
    if options.sample:
        h, _, headers = kinds[options.sample]
        sample(halyard, h, headers, options.n)
        return
    if options.cprofile:
        h, _, headers = kinds[options.cprofile]
        profile = cProfile.Profile(time.process_time)
        profile.runcall(lambda: [call(halyard, h, headers) for _ in range(options.n)])
        profile.dump_stats("/tmp/halyard.prof")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        return
    print("| request | Halyard ms CPU | baseline ms CPU | ratio (baseline/Halyard) |\n|---|---|---|---|")
    for name, (h, b, headers) in kinds.items():
        n = options.n if name in ("R1", "R1b") else max(options.n // 20, 100)
        hy_ms, base_ms = cpu_per_call(halyard, h, headers, n), cpu_per_call(baseline, b, headers, n)
        print(f"| {name} | {hy_ms:.3f} | {base_ms:.3f} | {base_ms / hy_ms:.2f} |", flush=True)


if __name__ == "__main__":
    main()
