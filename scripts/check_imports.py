#!/usr/bin/env python
"""Check that tierscope's imports run one way: no import cycles, and no layer imports one above it.

Every ``import`` and ``from ... import`` in ``python/tierscope`` counts, including those inside
functions and under ``if TYPE_CHECKING:`` (a lazy import is still a dependency). Deprecated
alias modules (old flat paths) are skipped: nothing inside the package may import them, which is
checked too. Prints the module graph's layer summary; exits 1 on any violation.

    python scripts/check_imports.py [--graph]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "python" / "tierscope"

#: Layer of each top-level part → the layers it may import (besides itself and the base).
BASE = {
    "tierscope._core",
    "tierscope._runtime",
    "tierscope._validate",
    "tierscope.exceptions",
    "tierscope._optional",
    "tierscope._deprecated",
    "tierscope._logging",
}
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "stats": set(),
    "routing": {"stats"},
    "confidence": {"routing", "stats"},
    "log": {"routing", "stats"},
    "quality": {"log", "routing", "stats"},
    "models": {"routing", "stats", "data"},
    "batch": {"routing", "log", "stats"},
    "demo": {"routing", "log", "quality", "stats", "models", "data"},
    "integrations": {"routing", "log", "stats"},
    "cli": {"routing", "log", "quality", "stats", "models", "data", "batch", "demo"},
    "ray": {"batch"},  # tierscope.ray: the public name of tierscope.batch.ray (issue 18)
    "__main__": {"cli"},
}
#: The curated top-level namespace re-exports everything (lazily); it is nobody's dependency.
ROOT = "tierscope"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_deprecated_alias(path: Path) -> bool:
    return "alias_module(__name__" in path.read_text(encoding="utf-8")


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports (resolving relative imports and submodules)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                # `from pkg import sub` depends on the submodule pkg.sub when there is one.
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules else source)
    return {m for m in found if m in modules and m != name}


def layer_of(module: str) -> str | None:
    if module == ROOT or module in BASE:
        return None
    return module.split(".")[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components with more than one module (cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return cycles


def build_graph() -> tuple[dict[str, set[str]], set[str]]:
    """(module -> package modules it imports, the deprecated alias modules)."""
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    aliases = {module_name(f) for f in files if is_deprecated_alias(f)}
    modules = {module_name(f) for f in files} | {"tierscope._core"}
    graph: dict[str, set[str]] = {"tierscope._core": set()}  # the compiled extension
    for f in files:
        name = module_name(f)
        if name not in aliases:
            graph[name] = imports_of(f, modules)
    return graph, aliases


def edge_problem(module: str, dep: str, aliases: set[str]) -> str | None:
    """What is wrong with ``module`` importing ``dep``, if anything."""
    if dep in aliases:
        return f"{module} imports the deprecated alias {dep}"
    if module == ROOT:
        return None
    if dep == ROOT:
        return f"{module} imports the top-level namespace (import the defining module)"
    src, dst = layer_of(module), layer_of(dep)
    if src is None:
        return None if dst is None else f"base module {module} imports {dep}"
    if dst is None or dst == src or dst in ALLOWED.get(src, set()):
        return None
    return f"layer violation: {module} ({src}) imports {dep} ({dst})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", action="store_true", help="print every module's imports")
    parser.add_argument("--package-dir", type=Path, default=None, help=argparse.SUPPRESS)  # for tests
    args = parser.parse_args(argv)
    global PACKAGE_DIR
    if args.package_dir is not None:
        PACKAGE_DIR = args.package_dir.resolve()
    graph, aliases = build_graph()
    cycles = strongly_connected({m: deps - aliases for m, deps in graph.items()})
    problems = ["import cycle: " + " -> ".join(cycle) for cycle in cycles]
    layer_edges: dict[tuple[str, str], int] = defaultdict(int)
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            problem = edge_problem(module, dep, aliases)
            if problem:
                problems.append(problem)
            src, dst = layer_of(module), layer_of(dep)
            if module != ROOT and src and dst and src != dst:
                layer_edges[(src, dst)] += 1
        if args.graph:
            print(f"{module}: {', '.join(sorted(deps)) or '-'}")
    print(f"{len(graph)} modules ({len(aliases)} deprecated aliases skipped); layer edges:")
    for (src, dst), count in sorted(layer_edges.items()):
        print(f"  {src:8s} -> {dst:8s} {count:3d} imports")
    for problem in problems:
        print("ERROR:", problem, file=sys.stderr)
    print("import cycles: none" if not cycles else f"import cycles: {len(cycles)}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
