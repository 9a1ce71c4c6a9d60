"""A custom import-linter contract: no import cycle between the modules of a package (import-linter's
own ``acyclic_siblings`` compares packages, not modules). Function-level imports count (grimp sees them).

Used by ``.importlinter`` (``lint-imports``, run by ``make test``)."""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output


class AcyclicModulesContract(Contract):
    """Fails when any module of ``root`` reaches itself through imports (``ignore_imports``: the
    ``importer -> imported`` pairs left out)."""

    type_name = "acyclic_modules"

    root = fields.StringField()
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        ignored = {(str(e.importer), str(e.imported)) for e in self.ignore_imports or ()}  # type: ignore[union-attr]
        root = str(self.root)
        modules = sorted(m for m in graph.modules if m == root or m.startswith(root + "."))
        inside = set(modules)
        edges = {
            m: sorted(
                w for w in graph.find_modules_directly_imported_by(m) if w in inside and (m, w) not in ignored
            )
            for m in modules
        }
        cycles = [sorted(c) for c in _strongly_connected(modules, edges) if len(c) > 1]
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"Import cycle between: {', '.join(cycle)}", bold=True)
            output.new_line()


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found
