"""Ending a sandboxed step and proving none of its processes is left (docs/datasources.md "Sandbox").

A step's processes live in a PID namespace whose init is bwrap's inner process; when that init dies the
kernel kills everything else in the namespace, and the outer bwrap (our child) exits only after it has
reaped the init, by which time the namespace is empty. So stopping a step is: SIGKILL the init (through a
pidfd, checked to still be our child's child), then wait for our child. ``sweep`` is the second line:
it finds processes of a step's uid by reading /proc/*/status and kills them (none are expected).
"""

import json
import os
import signal
import subprocess
import time

from flask import current_app

SWEEP_SECONDS = 10


def stop(proc, status_read):
    """Kill the sandbox started as ``proc`` (when still running) and wait until it is gone."""
    if proc.poll() is not None:
        return
    inner = _child_pid(status_read)
    if inner is None:  # bwrap has not spawned the namespace's init yet: nothing but bwrap to kill
        proc.kill()
    else:
        _kill(inner, lambda status: _field(status, "PPid") == [proc.pid])
    try:
        proc.wait(timeout=SWEEP_SECONDS)
    except subprocess.TimeoutExpired:  # stuck: kill bwrap itself (its init then dies by --die-with-parent)
        proc.kill()
        proc.wait()


def _child_pid(status_read):
    """The init's pid from bwrap's --json-status-fd ("child-pid"), or None when not written yet."""
    os.set_blocking(status_read, False)
    try:
        text = os.read(status_read, 65536).decode("utf-8", "replace")
    except (BlockingIOError, OSError):
        return None
    for line in text.splitlines():  # one JSON document per line; the last may still be partial
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("child-pid"), int):
            return document["child-pid"]
    return None


def sweep(uid):
    """Kill every process whose real, effective or saved uid is ``uid``; return how many there were."""
    found, deadline = 0, time.monotonic() + SWEEP_SECONDS
    while True:
        pids = processes_of(uid)
        if not pids or time.monotonic() > deadline:
            break
        found = max(found, len(pids))
        for pid in pids:
            _kill(pid, lambda status: uid in _field(status, "Uid")[:3])
        time.sleep(0.05)
    if found:
        current_app.logger.warning("sandbox: killed %d leftover process(es) of step uid %d", found, uid)
    return found


def processes_of(uid):
    """Pids of the processes that run as ``uid`` (real, effective or saved), from /proc."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            status = _status(name)
            if status and uid in _field(status, "Uid")[:3]:
                pids.append(int(name))
    return pids


def _kill(pid, still_it):
    """SIGKILL ``pid`` through a pidfd, if the process the pidfd holds still passes ``still_it(status)``."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        status = _status(pid)
        if status and still_it(status):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def _status(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _field(status, name):
    """The numbers of one /proc/<pid>/status line (``Uid:	1 1 1 1`` → [1, 1, 1, 1])."""
    start = status.find(f"\n{name}:")
    if start < 0:
        return []
    line = status[start + len(name) + 2 : status.find("\n", start + 1)]
    return [int(v) for v in line.split() if v.isdigit()]
