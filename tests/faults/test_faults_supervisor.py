"""The supervisor on its own (app/supervisor.py), with small stand-in children instead of Halyard.

A child that keeps dying is restarted with a growing backoff and a line each time; what a dead child
left in its process group is stopped before the restart; on SIGTERM every child is stopped and
nothing is left; if the supervisor is killed, its children get SIGTERM from the kernel.
"""

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from faultkit import ROOT, gone, poll

pytestmark = pytest.mark.timeout_sensitive

SUPERVISE = textwrap.dedent("""
    import sys
    from app.supervisor import Child, Supervisor
    py, pids = sys.executable, sys.argv[1]
    sleep = [py, "-c", "import time; time.sleep(300)"]
    # the crasher leaves a sleeper behind in its process group, writes both pids, and dies
    crash = ("import os, subprocess, sys, time; s = subprocess.Popen(sys.argv[2:]); "
             "open(sys.argv[1], 'a').write(f'{os.getpid()} {s.pid} '); time.sleep(0.3)")
    Supervisor([
        Child("store", sleep, env=None, last=True),
        Child("crasher", [py, "-c", crash, pids, *sleep], env=None),
        Child("steady", sleep, env=None),
    ], say=lambda message: print(message, flush=True)).run(on_up=lambda: print("up", flush=True))
    print("stopped", flush=True)
""")


def command(process):
    try:
        return process.cmdline()
    except psutil.Error:  # exited meanwhile
        return []


def dead(pid):
    try:
        return gone(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def supervisor(tmp_path):
    log = open(tmp_path / "supervisor.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISE, str(tmp_path / "pids")],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    yield proc, tmp_path / "pids", lambda: open(log.name).read()
    for process in psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []:
        process.kill()
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_crashing_child_is_restarted_with_backoff_and_its_leftovers_stopped(supervisor):
    proc, pids, output = supervisor
    poll(lambda: "up" in output().split(), timeout=60)
    sleepers = psutil.Process(proc.pid).children()
    steady = {p.pid for p in sleepers if command(p)[2:] == ["import time; time.sleep(300)"]}
    poll(lambda: output().count("crasher started again") >= 2, timeout=60)
    text = output()
    assert "crasher (pid" in text and "exited with status 0; restarting it in 1 s" in text
    assert "restarting it in 2 s" in text  # the backoff grows while it keeps dying
    crasher, sleeper = (int(pid) for pid in open(pids).read().split()[:2])
    assert dead(crasher) and dead(sleeper)  # its process group was emptied before the restart
    assert len(steady) == 2 and steady <= {p.pid for p in psutil.Process(proc.pid).children()}  # untouched


def test_sigterm_stops_every_child_and_leaves_nothing(supervisor):
    proc, _, output = supervisor
    poll(lambda: "up" in output().split(), timeout=60)
    everything = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert all(gone(p) for p in everything)
    assert output().rstrip().endswith("stopped")


def test_children_get_sigterm_when_the_supervisor_is_killed(supervisor):
    proc, _, output = supervisor
    poll(lambda: "up" in output().split(), timeout=60)
    children = psutil.Process(proc.pid).children()
    proc.kill()
    proc.wait()
    poll(lambda: all(gone(p) for p in children), timeout=30)
