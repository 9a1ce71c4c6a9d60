"""API Gateway REST's resource matching, for the app's route table (``app.routes``).

A request path is matched as API Gateway REST matches resources: a literal segment first, then the single
path variable of that level, then a greedy ``{name+}`` variable, which takes the rest of the path and is
only ever the last segment. The local gateway (``infra/local/gateway.py``) routes with it, and so does the
HTTP API adapter (``web/httpapi.py``), whose API hands every path to one proxy route.

Example::

    tree = build_tree(["/repos/{subject}/{repo}", "/content/{subject}/{repo}/{file_path+}"])
    match(tree, "/content/alice/tools/a/b.txt")
    # ("/content/{subject}/{repo}/{file_path+}",
    #  {"subject": "alice", "repo": "tools", "file_path": "a/b.txt"})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass
class Resource:
    """One level of the resource tree."""

    path: str | None = None  # set when a resource with methods ends here
    literals: dict[str, Resource] = field(default_factory=dict)
    variable: tuple[str, Resource] | None = None
    greedy: tuple[str, Resource] | None = None


class RouteConflict(ValueError):
    """The route table cannot be deployed on API Gateway."""


def build_tree(paths: list[str]) -> Resource:
    """The resource tree of ``paths``; raises RouteConflict for what API Gateway refuses."""
    root = Resource()
    for path in paths:
        node = root
        segments = [s for s in path.strip("/").split("/") if s]
        for position, segment in enumerate(segments):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if name.endswith("+"):
                    if position != len(segments) - 1:
                        raise RouteConflict(f"{path}: a greedy variable must be the last segment")
                    slot = "greedy"
                    name = name[:-1]
                else:
                    slot = "variable"
                current = getattr(node, slot)
                other = node.greedy if slot == "variable" else node.variable
                if current is not None and current[0] != name:
                    raise RouteConflict(f"{path}: sibling variables {{{current[0]}}} and {{{name}}}")
                if other is not None:
                    # API Gateway allows one variable resource per level, greedy or not.
                    raise RouteConflict(f"{path}: sibling variables {{{other[0]}}} and {segment}")
                if current is None:
                    current = (name, Resource())
                    setattr(node, slot, current)
                node = current[1]
            else:
                node = node.literals.setdefault(segment, Resource())
        node.path = path if path.startswith("/") else "/" + path
    return root


def _same(segment: str) -> str:
    return segment


def match(root: Resource, path: str, decoded: bool = False) -> tuple[str, dict[str, str]] | None:
    """The resource path matching request ``path`` and its path parameters, or None.

    ``decoded``: ``path`` is already percent-decoded (an HTTP API event's), so segments are taken as they
    are; otherwise each segment is decoded once."""
    raw = path.split("?", 1)[0] if not decoded else path
    if raw != "/" and raw.endswith("/"):
        raw = raw[:-1]
    segments = raw.strip("/").split("/") if raw.strip("/") else []
    params: dict[str, str] = {}
    found = _walk(root, segments, 0, params, _same if decoded else unquote)
    if found is None:
        return None
    return found, params


def _walk(
    node: Resource, segments: list[str], index: int, params: dict[str, str], decode: Callable[[str], str]
) -> str | None:
    if index == len(segments):
        return node.path
    segment = segments[index]
    if segment == "":
        return None
    child = node.literals.get(decode(segment))
    if child is not None:
        found = _walk(child, segments, index + 1, params, decode)
        if found is not None:
            return found
    if node.variable is not None:
        name, child = node.variable
        params[name] = decode(segment)
        found = _walk(child, segments, index + 1, params, decode)
        if found is not None:
            return found
        del params[name]
    if node.greedy is not None:
        name, child = node.greedy
        if child.path is not None:
            params[name] = decode("/".join(segments[index:]))
            return child.path
    return None
