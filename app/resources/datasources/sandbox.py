"""Run one step script in a sandboxed child process (DESIGN.md §9; docs/datasources.md "Sandbox").

The child is ``unshare --net --mount`` (a new, empty network namespace: no network at all,
not even loopback, and a private mount table) → ``sh`` that enters the temporary working
directory, mounts empty tmpfs over the server's private directories (instance, storage,
/tmp, /run, ...) so database files and Unix sockets are out of reach, then ``setpriv``
drops to an unprivileged user with no supplementary groups and ``no_new_privs`` and
execs ``python -I -S harness.py`` (stdlib only, no site-packages). Before that, the
parent sets rlimits (CPU, address space, file size = output cap, open files, processes,
no core) and a new session, and passes an empty environment. A wall-clock timeout
kills the whole session; coreutils ``timeout`` inside the sandbox is a second watchdog that
still fires if the worker running the job dies. When namespaces are unavailable, steps fail closed.
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from flask import current_app

HERE = os.path.dirname(os.path.abspath(__file__))
TAIL = 2000
LAUNCH = r"""
work="$1"; uid="$2"; python="$3"; setpriv="$4"; mount="$5"; RUN="$6"; timeout="$7"; wall="$8"; shift 8
cd "$work" || exit 121
for hidden in "$@"; do
  if [ -d "$hidden" ]; then "$mount" -n -t tmpfs -o size=64k,mode=755 halyard-hidden "$hidden" || exit 122; fi
done
exec "$setpriv" --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs -- \
  "$timeout" --signal=KILL "$wall" "$python" -I -S -X utf8 -c "$RUN"
"""
# The working directory sits under a hidden path, so files are opened relative to the cwd only.
RUN = "exec(compile(open('harness.py', encoding='utf-8').read(), 'harness.py', 'exec'))"


class SandboxUnavailable(Exception):
    """The isolation the sandbox promises cannot be set up here; nothing was run."""


@dataclass
class Outcome:
    exit_status: int | None
    reason: str | None  # why it stopped when it did not exit by itself: time, cpu, memory, output
    duration: float
    stdout_tail: str
    stderr_tail: str
    output: str | None  # path of output.csv when the step succeeded

    @property
    def ok(self):
        return self.exit_status == 0 and self.output is not None


def _setting(name):
    return current_app.config[f"HALYARD_SANDBOX_{name}"]


def _python():
    """The step interpreter: the setting, else a system Python 3 the sandbox user can run, else ours."""
    if _setting("PYTHON"):
        return _setting("PYTHON")
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.isfile(candidate):
            return candidate
    return os.path.realpath(sys.executable)


def hidden_paths():
    """Directories a step must not see: the server's instance and storage, temp and runtime dirs."""
    config = current_app.config
    paths = [current_app.instance_path, config["HALYARD_STORAGE_ROOT"], "/tmp", "/var/tmp", "/run", "/dev/shm",
             "/var/run/postgresql", "/var/lib/postgresql", "/var/lib/redis"]
    paths += [p.strip() for p in _setting("HIDE").split(",") if p.strip()]
    return list(dict.fromkeys(os.path.realpath(p) for p in paths))


def check():
    """Raise SandboxUnavailable unless a network + mount namespace can be created here."""
    unshare = _setting("UNSHARE")
    try:
        done = subprocess.run([unshare, "--net", "--mount", "--", "/bin/true"], env={}, capture_output=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0:
        raise SandboxUnavailable(
            "The step sandbox is unavailable: a network namespace could not be created (it needs util-linux "
            "'unshare' and root or CAP_SYS_ADMIN). Steps are never run without it.")


def _limits():
    """The rlimits of the child, applied before exec (inherited through unshare/sh/setpriv)."""
    memory, cpu = _setting("MEMORY_BYTES"), _setting("CPU_SECONDS")
    output, files = _setting("OUTPUT_BYTES"), _setting("OPEN_FILES")

    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (32, 32))

    return apply


def run(script_body, input_csv, params_json):
    """Run ``script_body`` (bytes) on the CSV at ``input_csv``; return an Outcome.

    The caller owns ``outcome.output`` and must move it away before calling ``cleanup``.
    """
    uid = _setting("UID")
    base = tempfile.mkdtemp(prefix="halyard-step-")
    work = os.path.join(base, "work")
    os.mkdir(work)
    shutil.copyfile(os.path.join(HERE, "harness.py"), os.path.join(work, "harness.py"))
    with open(os.path.join(work, "step.py"), "wb") as fh:
        fh.write(script_body)
    with open(os.path.join(work, "params.json"), "w", encoding="utf-8") as fh:
        fh.write(params_json)
    shutil.copyfile(input_csv, os.path.join(work, "input.csv"))
    for name in os.listdir(work):
        os.chown(os.path.join(work, name), uid, uid)
    os.chown(work, uid, uid)
    os.chmod(work, 0o700)
    command = [_setting("UNSHARE"), "--net", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", LAUNCH,
               "halyard-step", work, str(uid), _python(), _setting("SETPRIV"), _setting("MOUNT"), RUN,
               _setting("TIMEOUT"), str(_setting("WALL_SECONDS") + 2), *hidden_paths()]
    wall = _setting("WALL_SECONDS")
    started = time.monotonic()
    with open(os.path.join(base, "stdout"), "w+b") as out, open(os.path.join(base, "stderr"), "w+b") as err:
        proc = subprocess.Popen(command, cwd=work, env={}, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                preexec_fn=_limits(), start_new_session=True, close_fds=True)
        reason = None
        try:
            proc.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            reason = "time"
            _kill(proc)
        duration = time.monotonic() - started
        stdout_tail, stderr_tail = _tail(out), _tail(err)
    status = proc.returncode
    reason = reason or _reason(status, stderr_tail)
    output = os.path.join(work, "output.csv")
    ok = status == 0 and os.path.isfile(output)
    return Outcome(status, reason, round(duration, 3), stdout_tail, stderr_tail, output if ok else None), base


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _reason(status, stderr_tail):
    if status == -signal.SIGXCPU:
        return "cpu"
    if status == -signal.SIGXFSZ or status and "[Errno 27]" in stderr_tail:  # Python ignores SIGXFSZ: EFBIG
        return "output"
    if status in (-signal.SIGKILL, 137):
        return "killed"
    if status and "MemoryError" in stderr_tail:
        return "memory"
    if status in (121, 122):
        return "sandbox"
    return None


def _tail(fh):
    fh.flush()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - TAIL))
    return fh.read().decode("utf-8", errors="replace")


def cleanup(base):
    shutil.rmtree(base, ignore_errors=True)
