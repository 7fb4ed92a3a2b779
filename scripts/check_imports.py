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
BASE = {"tierscope._core", "tierscope._runtime", "tierscope.exceptions", "tierscope._deprecated"}
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "stats": set(),
    "routing": {"stats"},
    "log": {"routing", "stats"},
    "quality": {"log", "routing", "stats"},
    "models": {"routing", "stats", "data"},
    "batch": {"routing", "log", "stats"},
    "demo": {"routing", "log", "quality", "stats", "models", "data"},
    "cli": {"routing", "log", "quality", "stats", "models", "data", "batch", "demo"},
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", action="store_true", help="print every module's imports")
    parser.add_argument("--package-dir", type=Path, default=None, help=argparse.SUPPRESS)  # for tests
    args = parser.parse_args(argv)
    global PACKAGE_DIR
    if args.package_dir is not None:
        PACKAGE_DIR = args.package_dir.resolve()
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    aliases = {module_name(f) for f in files if is_deprecated_alias(f)}
    modules = {module_name(f) for f in files} | {"tierscope._core"}
    graph: dict[str, set[str]] = {"tierscope._core": set()}  # the compiled extension
    for f in files:
        name = module_name(f)
        if name not in aliases:
            graph[name] = imports_of(f, modules)
    problems: list[str] = []
    for cycle in strongly_connected({m: deps - aliases for m, deps in graph.items()}):
        problems.append("import cycle: " + " -> ".join(cycle))
    layer_edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if dep in aliases:
                problems.append(f"{module} imports the deprecated alias {dep}")
                continue
            if module == ROOT:
                continue
            if dep == ROOT:
                problems.append(f"{module} imports the top-level namespace (import the defining module)")
                continue
            src, dst = layer_of(module), layer_of(dep)
            if src is None:
                if dst is not None:
                    problems.append(f"base module {module} imports {dep}")
                continue
            if dst is None or dst == src:
                continue
            layer_edges[(src, dst)].append(f"{module} -> {dep}")
            if dst not in ALLOWED.get(src, set()):
                problems.append(f"layer violation: {module} ({src}) imports {dep} ({dst})")
    if args.graph:
        for module, deps in sorted(graph.items()):
            print(f"{module}: {', '.join(sorted(deps)) or '-'}")
    print(f"{len(graph)} modules ({len(aliases)} deprecated aliases skipped); layer edges:")
    for (src, dst), edges in sorted(layer_edges.items()):
        print(f"  {src:8s} -> {dst:8s} {len(edges):3d} imports")
    for problem in problems:
        print("ERROR:", problem, file=sys.stderr)
    print("import cycles: none" if not any(p.startswith("import cycle") for p in problems) else "")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
