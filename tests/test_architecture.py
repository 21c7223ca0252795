"""The house rules of the code, checked on the code itself: imports run one way and never in
a circle, the layers import only as ``yamasat.*``, flows leave raster and vector I/O to
processing, and modules and functions stay small. Fast and offline: static analysis with
grimp (import-linter's graph), plus two short subprocesses."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp
import pytest

import yamasat

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("flows", "catalogs", "processing")
RASTER_VECTOR_IO = frozenset({"rasterio", "rio_cogeo", "pyarrow", "geopandas", "matplotlib"})
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


@cache
def _graph(*, external: bool = False) -> grimp.ImportGraph:
    """Every import in yamasat, imports inside functions included."""
    return grimp.build_graph("yamasat", include_external_packages=external, cache_dir=None)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _production_files() -> dict[str, Path]:
    """Module name -> source file of yamasat's production code (Alembic migrations aside)."""
    package = Path(yamasat.__file__).parent
    out: dict[str, Path] = {}
    for module in _graph().modules:
        parts = module.split(".")[1:]
        if "migrations" in parts:
            continue
        base = package.joinpath(*parts)
        out[module] = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return out


def test_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_among_our_modules() -> None:
    graph = _graph()
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = _cycles(edges)
    lines = []
    for component in cycles:
        members = set(component)
        for m in component:
            inside = sorted(edges[m] & members)
            lines.append(f"  {m} -> {', '.join(inside)}")
        lines.append("")
    assert not cycles, "import cycles (module -> what it imports within the cycle):\n" + "\n".join(
        lines
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_folder_is_not_importable_under_its_bare_name(layer: str) -> None:
    code = f"import {layer}"
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, f"{code!r} worked from {ROOT}"
    assert "ImportError" in done.stderr, done.stderr


def test_every_module_imports_once_under_its_yamasat_name() -> None:
    code = (
        "import importlib, json, pkgutil, sys, yamasat\n"
        "for m in pkgutil.walk_packages(yamasat.__path__, 'yamasat.'):\n"
        "    if '.migrations' not in m.name and not m.name.endswith('.__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    ours = {m for m in _production_files() if not m.endswith(".__main__")}
    assert ours <= loaded, f"not reached by pkgutil.walk_packages: {sorted(ours - loaded)}"
    bare = sorted(m for m in loaded if m.split(".")[0] in LAYERS)
    assert not bare, f"modules imported under a bare layer name: {bare}"


def test_no_flow_module_does_raster_or_vector_io_itself() -> None:
    graph = _graph(external=True)
    offenders = {
        m: sorted(set(graph.find_modules_directly_imported_by(m)) & RASTER_VECTOR_IO)
        for m in graph.find_descendants("yamasat.flows")
    }
    offenders = {m: libs for m, libs in sorted(offenders.items()) if libs}
    assert not offenders, f"flow modules importing raster/vector/image I/O: {offenders}"


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for module, path in sorted(_production_files().items()):
        source = path.read_text(encoding="utf-8")
        if (n := len(source.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"{module}: {n} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name} (line {node.lineno}): {n} lines")
    assert not too_long, (
        f"over {MAX_MODULE_LINES} lines per module or {MAX_FUNCTION_LINES} per function:\n  "
        + "\n  ".join(too_long)
    )


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
