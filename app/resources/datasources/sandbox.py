"""Run one step script in a bubblewrap sandbox (DESIGN.md §9; docs/datasources.md "Sandbox").

``bwrap`` (run by the root worker) gives each step new PID, network, IPC, UTS and cgroup namespaces and
a root file system that holds only the allow-listed interpreter tree (``sandbox_tree``), a private
``/proc`` and ``/dev``, and the step's own work folder at ``/work``. The harness starts there as root
with only CAP_SETUID/CAP_SETGID (and no_new_privs, which bwrap sets) and first becomes the step's own
uid: ``HALYARD_SANDBOX_UID_BASE`` + the native id of the worker thread that runs the step, which no
other running step on this host can share, after setting the step's rlimits (CPU, address space, file
size = output cap, open files, processes of the uid, no core). The PID namespace's init is bwrap: when
the step ends, when it is killed at its wall-clock limit, or when the worker dies
(``--die-with-parent``), every process of the step dies with it. The worker reads output.csv back only
as a regular file the step's uid owns, opened without following links. When bwrap cannot set this up,
steps fail closed.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from flask import current_app

from app.resources.datasources import sandbox_processes as processes
from app.resources.datasources import sandbox_tree

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
WORK = "/work"  # where the step's folder appears inside the sandbox
TAIL = 2000
PROCESSES = 32  # RLIMIT_NPROC of a step's uid: its harness and 31 more
UID_LIMIT = 2**31  # some tools treat uids as signed 32-bit numbers
NAMESPACES = [
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "halyard-step",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--cap-add",
    "CAP_SETUID",
    "--cap-add",
    "CAP_SETGID",
]


class SandboxUnavailable(Exception):
    """The isolation the sandbox promises cannot be set up here; nothing was run."""


@dataclass
class Outcome:
    exit_status: int | None  # negative: killed by that signal
    reason: str | None  # why it failed when not by its own exit: time, cpu, memory, output, output-file
    duration: float
    stdout_tail: str
    stderr_tail: str
    output: str | None  # the destination, once a valid output.csv was copied there

    @property
    def ok(self):
        return self.exit_status == 0 and self.output is not None


def _setting(name):
    return current_app.config[f"HALYARD_SANDBOX_{name}"]


def _python():
    """The step interpreter: the setting, else a system Python 3, else ours."""
    if _setting("PYTHON"):
        return os.path.abspath(_setting("PYTHON"))
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.isfile(candidate):
            return candidate
    return os.path.realpath(sys.executable)


def step_uid():
    """This step's own uid: the thread id is unique among live threads (so running steps) on the host."""
    return _setting("UID_BASE") + threading.get_native_id()


def _tree():
    try:
        binds, arguments = sandbox_tree.allowed(_python())
    except sandbox_tree.TreeError as error:
        raise SandboxUnavailable(
            f"The step sandbox is unavailable: {error}. Steps are never run without it."
        ) from None
    if any(p == WORK or p.startswith(("/work/", "/proc/", "/dev/")) or p in ("/proc", "/dev") for p in binds):
        raise SandboxUnavailable(
            f"The step sandbox is unavailable: the interpreter {_python()} lives under "
            f"{WORK}, /proc or /dev, which the sandbox replaces."
        )
    return list(arguments)


def check():
    """Raise SandboxUnavailable unless bwrap can start the interpreter in the full sandbox here."""
    with open("/proc/sys/kernel/pid_max") as fh:
        pid_max = int(fh.read())
    if not 65536 <= _setting("UID_BASE") <= UID_LIMIT - pid_max:
        raise SandboxUnavailable(
            f"The step sandbox is unavailable: HALYARD_SANDBOX_UID_BASE must be at "
            f"least 65536 and at most {UID_LIMIT - pid_max} (2^31 - kernel.pid_max)."
        )
    said = _trial()
    if said is not None:  # the interpreter or its libraries may have changed since the tree was listed
        sandbox_tree.allowed.cache_clear()
        said = _trial()
    if said is not None:
        raise SandboxUnavailable(
            "The step sandbox is unavailable: bubblewrap (HALYARD_SANDBOX_BWRAP) could not start the step "
            "interpreter in new namespaces (it needs the bubblewrap package and root)"
            + (f": {said[:200]}" if said else "")
            + ". Steps are never run without it."
        )


def _trial():
    """None when the interpreter starts in the full sandbox, else bwrap's last line of complaint (or "")."""
    command = [
        _setting("BWRAP"),
        *NAMESPACES,
        *_tree(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--",
        _python(),
        "-I",
        "-S",
        "-c",
        "pass",
    ]
    try:
        done = subprocess.run(
            command, check=False, env={}, capture_output=True, timeout=30, stdin=subprocess.DEVNULL, cwd="/"
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if done.returncode == 0:
        return None
    return (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]


def _limits():
    """The step's rlimits, set by the harness before it drops root (it can lower limits, never raise them)."""
    cpu = _setting("CPU_SECONDS")
    return json.dumps(
        {
            "CPU": [cpu, cpu + 1],
            "AS": _setting("MEMORY_BYTES"),
            "CORE": 0,
            "NPROC": PROCESSES,
            "FSIZE": _setting("OUTPUT_BYTES"),
            "NOFILE": _setting("OPEN_FILES"),
        }
    )


def run(script_body, input_csv, params_json, destination):
    """Run ``script_body`` (bytes) on the CSV ``input_csv``; on success its output is at ``destination``."""
    uid, base = step_uid(), tempfile.mkdtemp(prefix="halyard-step-")
    try:
        work = _prepare(base, uid, script_body, input_csv, params_json)
        return _execute(base, work, uid, destination)
    finally:
        shutil.rmtree(base, ignore_errors=True)  # fd-based: never follows a link the step left


def _prepare(base, uid, script_body, input_csv, params_json):
    """The step's folder: its own files (uid-owned), the harness (root's, read-only)."""
    work = os.path.join(base, "work")
    os.mkdir(work)
    shutil.copyfile(HARNESS, os.path.join(work, "harness.py"))
    os.chmod(os.path.join(work, "harness.py"), 0o444)  # read by the interpreter while it is still root
    with open(os.path.join(work, "step.py"), "wb") as fh:
        fh.write(script_body)
    with open(os.path.join(work, "params.json"), "w", encoding="utf-8") as fh:
        fh.write(params_json)
    shutil.copyfile(input_csv, os.path.join(work, "input.csv"))
    for name in ("step.py", "params.json", "input.csv"):
        os.chown(os.path.join(work, name), uid, uid)
        os.chmod(os.path.join(work, name), 0o600)
    os.chown(work, uid, uid)
    os.chmod(work, 0o711)  # bwrap enters it as a root without CAP_DAC_OVERRIDE; base is root's, 0700
    return work


def _execute(base, work, uid, destination):
    command_tail = [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--bind",
        work,
        WORK,
        "--chdir",
        WORK,
        "--",
        _python(),
        "-I",
        "-S",
        "-X",
        "utf8",
        f"{WORK}/harness.py",
        str(uid),
        _limits(),
    ]
    tree, reason = _tree(), None
    processes.sweep(uid)
    status_read, status_write = os.pipe()
    started = time.monotonic()
    # stdout/stderr are the parent's files outside the step's folder: the step holds only the descriptors.
    with open(os.path.join(base, "stdout"), "w+b") as out, open(os.path.join(base, "stderr"), "w+b") as err:
        try:
            proc = subprocess.Popen(
                [_setting("BWRAP"), *NAMESPACES, "--json-status-fd", str(status_write), *tree, *command_tail],
                cwd="/",
                env={},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=(status_write,),
            )
        except BaseException:
            os.close(status_read)
            raise
        finally:
            os.close(status_write)
        try:
            proc.wait(timeout=_setting("WALL_SECONDS"))
        except subprocess.TimeoutExpired:
            reason = "time"
        finally:  # also when the job itself is interrupted (RQ's timeout): the step never outlives this
            processes.stop(proc, status_read)
            os.close(status_read)
            processes.sweep(uid)
        duration = round(time.monotonic() - started, 3)
        stdout_tail, stderr_tail = _tail(out), _tail(err)
    status = _exit_status(proc.returncode)
    reason = reason or _reason(status, stderr_tail)
    taken = status == 0 and _take_output(work, uid, destination)
    if status == 0 and not taken:
        reason = "output-file"
    return Outcome(status, reason, duration, stdout_tail, stderr_tail, destination if taken else None)


def _take_output(work, uid, destination):
    """Copy ``output.csv`` to ``destination`` when it is a regular file the step's uid wrote; else False.

    Opened relative to the folder with O_NOFOLLOW (a symlink fails), checked on the open descriptor
    (regular, owned by the uid, one link, on the folder's device, within the size cap) and copied from it.
    """
    folder = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            fd = os.open(
                "output.csv", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=folder
            )
        except OSError:
            return False
        try:
            info = os.fstat(fd)
            if (
                not stat.S_ISREG(info.st_mode)
                or info.st_uid != uid
                or info.st_nlink != 1
                or info.st_dev != os.fstat(folder).st_dev
                or info.st_size > _setting("OUTPUT_BYTES")
            ):
                return False
            with open(fd, "rb", closefd=False) as src, open(destination, "xb") as dst:  # x: O_EXCL, no link
                shutil.copyfileobj(src, dst, 1024 * 1024)
        finally:
            os.close(fd)
        return True
    finally:
        os.close(folder)


def _exit_status(code):
    """bwrap's init reports a step killed by signal N as 128 + N; give it as -N like subprocess does."""
    return -(code - 128) if code is not None and 128 < code < 128 + signal.NSIG else code


def _reason(status, stderr_tail):
    if status == -signal.SIGXCPU:
        return "cpu"
    if status == -signal.SIGXFSZ or status and "[Errno 27]" in stderr_tail:  # Python ignores SIGXFSZ: EFBIG
        return "output"
    if status == -signal.SIGKILL:
        return "killed"
    if status and "MemoryError" in stderr_tail:
        return "memory"
    if status == 121 or status == 1 and "\nbwrap: " in "\n" + stderr_tail:
        return "sandbox"
    return None


def _tail(fh):
    fh.flush()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - TAIL))
    return fh.read().decode("utf-8", errors="replace")
