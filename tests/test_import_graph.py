"""The import graph of app/: which package may import which (docs/development.md "Which package may
import which"), no cycle between packages, and a reason on every function-local import of app.

Every module of app/ is parsed (``ast``, no import runs), and every ``import``/``from … import`` naming
app — at module level or inside a function — is an edge between the *units* of the two modules:

- ``app.hal``, ``app.jobs``, ``app.openapi``, ``app.browsable``, ``app.migrations``: a package each;
- ``app.resources.<domain>`` (a domain package) and ``app.resources.root``: one unit each;
  ``app.auth`` belongs to the accounts unit (it is the accounts domain's door for every other domain:
  who is asking), so ``app.resources.accounts`` and ``app/auth.py`` are one unit;
- ``app.resources`` (the discovery in its ``__init__``) and every other top-level module (``app.config``,
  ``app.cli``, …): one unit each;
- ``app`` itself (app/__init__.py: ``create_app``) is the composition root: it imports the units inside
  ``create_app``, and a unit reaches it only through a function-local ``from app import create_app``
  marked ``# deferred:`` (a worker or the CLI building its app). Python runs app/__init__.py before any
  module of the package anyway, so such an edge orders nothing and is left out of the graph.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
DOCS = ROOT / "docs" / "development.md"
HEADING = "### Which package may import which"

UNIT_OF_MODULE = {"app.auth": "app.resources.accounts"}  # see the module docstring

# Edges allowed by name although they break the picture (none left: catalogue -> downloader, the last,
# went when the DuckDB helpers moved beside the tables and the downloader registered a delete check);
# test_known_edges_still_exist makes an entry fail once its edge is gone, so the list can only shrink.
KNOWN_EDGES = {}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def unit_of(module):
    if module in UNIT_OF_MODULE:
        return UNIT_OF_MODULE[module]
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "resources":
        return ".".join(parts[:3])
    return ".".join(parts[:2])


class Import:
    def __init__(self, module, target, node, local, lines):
        self.module, self.target, self.line, self.local = module, target, node.lineno, local
        self.source, self.target_unit = unit_of(module), unit_of(target)
        first = node.lineno - 1
        above = lines[first - 1].strip() if first > 0 else ""
        text = " ".join(lines[first : node.end_lineno]) + (" " + above if above.startswith("#") else "")
        self.reason = re.search(r"#.*\bdeferred: \S", text) is not None

    def __repr__(self):
        return f"{MODULES[self.module].relative_to(ROOT)}:{self.line} imports {self.target}"


def _targets(module, node):
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]


def collect():
    found = []
    for module, path in MODULES.items():
        text = path.read_text()
        lines = text.splitlines()

        def visit(node, local, module=module, lines=lines):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    for target in _targets(module, child):
                        if target == "app" or target.startswith("app."):
                            found.append(Import(module, target, child, local, lines))
                inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(child, inner)

        visit(ast.parse(text), False)
    return found


IMPORTS = collect()
EDGES = defaultdict(list)  # (source unit, target unit) -> the imports
for _imp in IMPORTS:
    if _imp.source != _imp.target_unit and _imp.target_unit != "app":
        EDGES[(_imp.source, _imp.target_unit)].append(_imp)


def picture():
    """The picture in docs/development.md: {unit: layer}, layers whose units import each other freely,
    and the same-layer edges it lists."""
    text = DOCS.read_text()
    assert HEADING in text, f"docs/development.md lost its section {HEADING!r}"
    block = text.split(HEADING, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    layers, free, allowed, layer = {}, set(), set(), None
    for line in block.splitlines():
        if "->" in line:
            source, targets = line.split("->")
            allowed.update((source.strip(), target) for target in targets.split())
            continue
        match = re.match(r"^(\d+)(\*?)\s", line)
        if match:
            layer = int(match.group(1))
            if match.group(2):
                free.add(layer)
        elif not line.startswith(" "):
            continue
        for unit in re.findall(r"\bapp(?:\.\w+)*\b", line):
            layers[unit] = layer
    return layers, free, allowed


def test_every_unit_has_a_place_in_the_picture():
    layers, _, _ = picture()
    units = {unit_of(m) for m in MODULES} - {"app"}
    assert len(units) > 20 and "app.resources.scheduler" in units
    missing = sorted(units - set(layers))
    assert not missing, f"add these to docs/development.md {HEADING!r}: {missing}"
    stale = sorted(set(layers) - units)
    assert not stale, f"no longer units of app/, remove them from the picture: {stale}"


def disallowed(edges, layers, free, allowed):
    """The edges the picture does not allow: "source (layer) -> target (layer): first import"."""
    wrong = []
    for (source, target), imports in sorted(edges.items()):
        if (source, target) in KNOWN_EDGES or source == "app":  # the composition root imports them all
            continue
        low, high = layers.get(target), layers.get(source)
        if low is None or high is None:
            continue  # test_every_unit_has_a_place_in_the_picture names it
        if low < high or (low == high and (high in free or (source, target) in allowed)):
            continue
        wrong.append(f"{source} (layer {high}) -> {target} (layer {low}): {imports[0]}")
    return wrong


def test_every_import_is_allowed_by_the_picture():
    assert EDGES
    wrong = disallowed(EDGES, *picture())
    assert not wrong, "imports the picture does not allow:\n" + "\n".join(wrong)


def test_the_picture_refuses_an_upward_or_unlisted_import():
    layers, free, allowed = picture()
    fake = {
        ("app.hal", "app.jobs"): ["upward"],
        ("app.resources.scheduler", "app.resources.objects"): ["same layer, not listed"],
        ("app.resources.catalogue", "app.resources.datasources"): ["same layer, listed"],
        ("app.storage", "app.metrics"): ["free layer"],
    }
    assert [line.split(":")[0] for line in disallowed(fake, layers, free, allowed)] == [
        "app.hal (layer 0) -> app.jobs (layer 2)",
        "app.resources.scheduler (layer 6) -> app.resources.objects (layer 6)",
    ]


def _cycles(edges):
    graph = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def strongconnect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            strongconnect(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert _cycles({("a", "b"), ("b", "c")}) == []


def test_no_cycle_between_packages():
    cycles = _cycles(set(EDGES) - set(KNOWN_EDGES))
    detail = [
        f"{cycle}: " + "; ".join(repr(EDGES[(a, b)][0]) for a in cycle for b in cycle if (a, b) in EDGES)
        for cycle in cycles
    ]
    assert not cycles, "import cycles between packages:\n" + "\n".join(detail)


def test_known_edges_still_exist():
    """An allowance whose edge is gone must go too (otherwise it would hide a new one)."""
    gone = sorted(edge for edge in KNOWN_EDGES if edge not in EDGES)
    assert not gone, f"{gone} no longer imported: remove them from KNOWN_EDGES"


def test_function_local_app_imports_say_why():
    """A function-local import of app is for a heavy optional dependency, an entry point reaching the
    composition root, or a cycle that cannot be broken (a package's ``__init__`` importing the modules
    that import its blueprint); the comment ``# deferred: <reason>`` on it (or on the line above) says
    which."""
    local = [imp for imp in IMPORTS if imp.local]
    assert local
    missing = [repr(imp) for imp in local if not imp.reason]
    assert not missing, "function-local imports without '# deferred: <reason>':\n" + "\n".join(missing)


def test_the_root_is_reached_only_by_deferred_imports():
    into_root = [imp for imp in IMPORTS if imp.target_unit == "app" and imp.module != "app"]
    assert into_root  # the worker and the CLI build their app
    wrong = [repr(imp) for imp in into_root if not (imp.local and imp.reason)]
    assert not wrong, "app/__init__.py (create_app) imported outside a deferred import:\n" + "\n".join(wrong)


def test_a_reason_is_read_on_the_import_or_the_line_above():
    lines = [
        "def f():",
        "    from app import config  # deferred: why",
        "    from app import errors",
        "    # deferred: because",
        "    from app import hal",
        "    from app import inputs  # deferred:",
    ]
    nodes = [n for n in ast.walk(ast.parse("\n".join(lines))) if isinstance(n, ast.ImportFrom)]
    found = [Import("app.cli", f"app.{n.names[0].name}", n, True, lines).reason for n in nodes]
    assert found == [True, False, True, False]
