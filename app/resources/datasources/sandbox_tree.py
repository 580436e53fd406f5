"""The file tree a step sees: an allow-list derived from the step interpreter (docs/datasources.md "Sandbox").

Inside the sandbox the root is an empty tmpfs. Read-only, it gets exactly what the interpreter needs:

- the interpreter, at the path it is called by (every symlink on the way recreated as a symlink);
- each shared object the interpreter has loaded once it has imported every extension module of its
  standard library, at the path the dynamic loader opened it by (``dl_iterate_phdr``); this includes the
  loader itself (the ELF ``PT_INTERP``), so nothing here assumes one architecture's paths;
- the loader's cache ``/etc/ld.so.cache`` (when there is one), so libraries are found as on the host;
- the standard-library directories on the interpreter's ``sys.path`` under ``-I -S`` (no site-packages).

Nothing else of the host exists inside: no /etc/passwd, /root, /tmp, /home, instance or storage folder.
The list is found once per process by running the interpreter (trusted: it is the server's
configuration, run with ``-I -S`` and an empty environment, no user code) and cached.
"""

import functools
import json
import os
import subprocess

# Imports every extension module of the stdlib (each maps its shared libraries), then lists every loaded
# object by the name the loader used. Test-only modules are skipped.
DISCOVER = r"""
import ctypes, importlib, importlib.machinery, json, os, sys
suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
for entry in sys.path:
    for name in (sorted(os.listdir(entry)) if os.path.isdir(entry) else ()):
        suffix = next((s for s in suffixes if name.endswith(s)), None)
        if suffix and not name.startswith(("_test", "_xx", "xx", "_ctypes_test")):
            try:
                importlib.import_module(name[:-len(suffix)])
            except Exception:
                pass
class Info(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_void_p), ("name", ctypes.c_char_p)]
objects = []
@ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(Info), ctypes.c_size_t, ctypes.c_void_p)
def collect(info, size, data):
    objects.append(os.fsdecode(info.contents.name or b""))
    return 0
ctypes.CDLL(None).dl_iterate_phdr(collect, None)
print(json.dumps({"objects": objects, "path": sys.path}))
"""
LOADER_CACHE = "/etc/ld.so.cache"


class TreeError(Exception):
    """The allow-list could not be derived from the interpreter."""


@functools.lru_cache(maxsize=4)
def allowed(python):
    """``(binds, bwrap arguments)`` that rebuild the interpreter's read-only tree inside the sandbox."""
    try:
        done = subprocess.run(
            [python, "-I", "-S", "-c", DISCOVER],
            check=False,
            env={},
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
        found = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        found = None
    if found is None:
        raise TreeError(f"the step interpreter {python} could not list its libraries (it needs ctypes)")
    tree = Tree()
    tree.add(python)
    for name in found["objects"]:
        if name.startswith("/"):
            tree.add(name)
    for entry in found["path"]:
        if os.path.exists(entry):
            tree.add(entry)
    if os.path.isfile(LOADER_CACHE):
        tree.add(LOADER_CACHE)
    return tuple(sorted(tree.binds())), tuple(tree.arguments())


class Tree:
    """Paths to recreate: real directories to create, symlinks to copy, real files/dirs to bind read-only."""

    def __init__(self):
        self.dirs, self.links, self.targets = set(), {}, set()

    def add(self, path):
        self.targets.add(self._resolve(path))

    def _resolve(self, path, depth=0):
        """The real path of ``path``, recording each directory passed through and each symlink followed."""
        if depth > 40:
            raise TreeError(f"too many symbolic links under {path}")
        current = "/"
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                current = os.path.dirname(current)
                continue
            if current != "/":
                self.dirs.add(current)
            step = os.path.join(current, part)
            if os.path.islink(step):
                target = os.readlink(step)
                self.links[step] = target
                current = self._resolve(os.path.join(current, target), depth + 1)
            else:
                current = step
        return current

    def binds(self):
        """The bind targets, without those inside another bound directory."""
        return {p for p in self.targets if not _inside(p, self.targets - {p})}

    def arguments(self):
        binds = self.binds()
        args = []
        for path in sorted(d for d in self.dirs if not _inside(d, binds) and d not in binds):
            args += ["--perms", "0755", "--dir", path]  # bwrap would make missing parents 0700
        for path in sorted(binds):
            args += ["--ro-bind", path, path]
        for path, target in sorted(self.links.items()):
            if not _inside(path, binds):
                args += ["--symlink", target, path]
        return args


def _inside(path, roots):
    return any(path.startswith(root.rstrip("/") + "/") for root in roots)
