"""The import rules of the code base, read from the source (every import, also inside
functions; ``if TYPE_CHECKING:`` blocks excepted):

- no import cycles between modules, anywhere;
- the pure core (models, reducer, brain core, skills, offline model, ranking, calendar
  diff…) never reaches Temporal, FastAPI, a network or database client, or our own I/O
  modules, not even through another module;
- the library package ``mcos`` never imports the applications built on it (``app``,
  ``workflows``, ``activities``, ``worker``) — except the ``mcos`` command (``mcos.cli``
  and its modules), which runs them;
- the worker side (``worker``, ``workflows``, ``activities``) never imports ``app``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "workflows", "activities", "mcos")

PURE_CORE = (
    "mcos.kernel.models",
    "mcos.kernel.contracts",
    "mcos.kernel.frames",
    "mcos.kernel.errors",
    "mcos.kernel.ids",
    "mcos.kernel.timezones",
    "mcos.brain",
    "mcos.skills",
    "mcos.llm.base",
    "mcos.llm.offline",
    "mcos.llm.tools",
    "mcos.llm.prompt",
    "mcos.llm.lean",
    "mcos.flights.rank",
    "mcos.flights.models",
    "mcos.flights.airports",
    "mcos.flights.normalize",
    "mcos.calendar.diff",
    "mcos.calendar.travel",
    "mcos.calendar.busy",
    "mcos.calendar.window",
    "mcos.calendar.events",
)
# Third-party packages that do I/O or belong to a runtime the pure core must not need.
FORBIDDEN_THIRD_PARTY = {
    "temporalio",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "redis",
    "sqlalchemy",
    "sqlmodel",
    "psycopg",
    "openai",
    "mcp",
    "websockets",
    "prometheus_client",
    "jwt",
    "subprocess",
    "socket",
}
IO_MODULES = (
    "mcos.infra",
    "mcos.flights.client",
    "mcos.flights.server",
    "mcos.flights.duffel",
    "mcos.calendar.ics",
    "mcos.calendar.google_mcp",
    "mcos.llm.openai_provider",
    "mcos.llm.providers",
    "mcos.kernel.settings",
    "app",
    "workflows",
    "activities",
    "worker",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for stmt in node.orelse:
                visit(stmt)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")] + [ROOT / "worker.py"]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        raw = _imports(ast.parse(path.read_text()), name, path.name == "__init__.py")
        ours = {m for m in raw if m in modules}
        graph[name] = ours | {
            m.split(".")[0] for m in raw if m.split(".")[0] not in PACKAGES and m != "worker"
        }
    return graph


GRAPH = _graph()
OURS = {m for m in GRAPH}


def _reach(start: str) -> dict[str, str]:
    """Everything ``start`` imports, directly or not: module → the module that imports it."""
    seen: dict[str, str] = {}
    stack = [start]
    while stack:
        current = stack.pop()
        for dep in GRAPH.get(current, ()):
            if dep not in seen:
                seen[dep] = current
                if dep in OURS:
                    stack.append(dep)
    return seen


def _chain(start: str, target: str, via: dict[str, str]) -> str:
    path = [target]
    while path[-1] != start:
        path.append(via[path[-1]])
    return " -> ".join(reversed(path))


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v] & OURS:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in GRAPH[v]:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            strongconnect(module)
    assert not cycles, f"import cycles: {cycles}"


def _core_modules() -> list[str]:
    return sorted(m for m in OURS if any(m == c or m.startswith(c + ".") for c in PURE_CORE))


@pytest.mark.parametrize("module", _core_modules())
def test_the_pure_core_stays_pure(module: str) -> None:
    reached = _reach(module)
    bad = [
        _chain(module, dep, reached)
        for dep in reached
        if dep in FORBIDDEN_THIRD_PARTY
        or any(dep == io or dep.startswith(io + ".") for io in IO_MODULES)
    ]
    assert not bad, "\n".join(bad)


def test_the_pure_core_is_found() -> None:
    assert {
        "mcos.brain.reducer",
        "mcos.brain.commands",
        "mcos.kernel.models",
        "mcos.llm.offline",
        "mcos.flights.rank",
        "mcos.calendar.diff",
    } <= set(_core_modules())


def test_the_library_does_not_import_its_applications() -> None:
    bad = [
        f"{m} imports {dep}"
        for m in OURS
        if m.startswith("mcos") and m != "mcos.cli" and not m.startswith("mcos.cli.")
        for dep in GRAPH[m] & OURS
        if dep.split(".")[0] in ("app", "workflows", "activities", "worker")
    ]
    assert not bad, bad


@pytest.mark.parametrize("side", ["worker", "workflows", "activities"])
def test_the_worker_side_never_imports_the_api(side: str) -> None:
    starts = [m for m in OURS if m == side or m.startswith(side + ".")]
    bad = []
    for start in starts:
        reached = _reach(start)
        bad += [_chain(start, d, reached) for d in reached if d == "app" or d.startswith("app.")]
    assert not bad, "\n".join(bad)


def test_every_command_has_its_typed_update() -> None:
    from mcos.brain.commands import COMMAND_TYPES
    from workflows.client import COMMANDS

    assert set(COMMANDS) == set(COMMAND_TYPES)


def test_the_workflow_class_module_stays_small() -> None:
    """Handlers, validators, queries and the main loop only (the issue's ≤ 350 lines);
    turn logic, side effects and timers live beside it, pure rules in ``mcos/brain``."""
    lines = (ROOT / "workflows" / "brain.py").read_text().count("\n")
    assert lines <= 350, f"workflows/brain.py has {lines} lines"


# SDKs a worker or an API process may never use, loaded on first use: openai (the offline
# model needs none) and mcp (only a flights search or a Google Calendar sync). Each builds
# hundreds of pydantic models on import, ~0.9 s of CPU for every process that starts.
LOADED_ON_USE = {"openai", "mcp"}


def test_a_worker_or_an_api_starting_loads_no_sdk_it_may_not_use() -> None:
    code = "import sys, worker, app.main; print(' '.join({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    loaded = set(out.stdout.split())
    assert "temporalio" in loaded and "fastapi" in loaded  # the probe imported what it says
    assert not loaded & LOADED_ON_USE, f"loaded at start: {sorted(loaded & LOADED_ON_USE)}"
