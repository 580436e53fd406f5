"""Step harness: runs inside the sandbox (stdlib only, ``python -I -S``), never in the server.

It starts as the sandbox's root, holding only CAP_SETUID/CAP_SETGID, and before it reads anything of the
step it sets the step's rlimits (``argv[2]``, JSON) and becomes the step's own uid (``argv[1]``) with no
groups and no capabilities (exit 121 otherwise).

Protocol (docs/datasources.md, "Step protocol"): the working directory holds ``input.csv``
(UTF-8, comma, header row), ``params.json`` and ``step.py``. ``step.py`` defines
``transform(rows)`` or ``transform(rows, params)``: ``rows`` is an iterator of dicts
(column name -> string, None for an empty cell); it returns an iterable of dicts. The
output columns are the keys of the first row returned (the input columns when no row
is returned); later rows may omit keys (empty cells) but must not add new ones.
"""

import csv
import inspect
import json
import os
import resource
import sys
import types


def become(uid, limits):
    """Set ``limits`` ({"CPU": [soft, hard] or one value}), become ``uid`` with no groups, prove no caps."""
    try:
        for name, value in limits.items():
            resource.setrlimit(
                getattr(resource, f"RLIMIT_{name}"),
                tuple(value) if isinstance(value, list) else (value, value),
            )
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        with open("/proc/self/status", encoding="utf-8", errors="replace") as fh:
            caps = [
                int(line.split()[1], 16) for line in fh if line.startswith(("CapPrm", "CapEff", "CapAmb"))
            ]
    except (OSError, ValueError, AttributeError):
        caps = []
    if (
        os.getresuid() != (uid,) * 3
        or os.getresgid() != (uid,) * 3
        or os.getgroups()
        or any(caps)
        or len(caps) != 3
    ):
        print("the sandbox could not drop privileges", file=sys.stderr)
        sys.exit(121)


def rows(reader):
    for row in reader:
        yield {key: (value if value != "" else None) for key, value in row.items() if key is not None}


def main():
    become(int(sys.argv[1]), json.loads(sys.argv[2]))
    with open("params.json", encoding="utf-8") as fh:
        params = json.load(fh)
    module = types.ModuleType("step")
    with open("step.py", encoding="utf-8") as fh:
        exec(compile(fh.read(), "step.py", "exec"), module.__dict__)  # noqa: S102 — this IS the sandbox
    transform = getattr(module, "transform", None)
    if not callable(transform):
        print("step.py does not define transform(rows)", file=sys.stderr)
        return 2
    wants_params = len(inspect.signature(transform).parameters) >= 2
    with (
        open("input.csv", encoding="utf-8", newline="") as src,
        open("output.csv", "w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.DictReader(src)
        output = transform(rows(reader), params) if wants_params else transform(rows(reader))
        writer = None
        for number, row in enumerate(output or (), start=1):
            if not isinstance(row, dict):
                print(
                    f"transform returned a {type(row).__name__} as row {number}; rows must be dicts",
                    file=sys.stderr,
                )
                return 3
            if writer is None:
                writer = csv.DictWriter(dst, fieldnames=list(row), restval="", extrasaction="raise")
                writer.writeheader()
            try:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            except ValueError as error:
                print(f"row {number}: {error}", file=sys.stderr)
                return 3
        if writer is None:
            csv.writer(dst).writerow(reader.fieldnames or [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
