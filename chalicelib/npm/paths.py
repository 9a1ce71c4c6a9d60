"""What a path under ``/npm/:subject/:repo/`` asks for (pure functions, no I/O).

npm spells a scoped name ``@scope/name`` and sends it as ``@scope%2fname``; both forms are accepted.
A Shelf package name has no ``@`` or ``/``: ``@scope/name`` is package ``scope:name``.
"""

from __future__ import annotations

import re

from chalicelib.errors import BadRequest
from chalicelib.records import dataclass

#: npm's package names (lower case for new packages; old ones may have capitals), scoped or not.
NPM_NAME = re.compile(r"^(?:@[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9_][A-Za-z0-9._-]*$")
MAX_NAME = 214


@dataclass(frozen=True)
class NpmPath:
    """``kind``: ``packument``, ``rev`` (``<name>/-rev/<rev>``), ``tarball`` (``<name>/-/<file>``, with
    ``/-rev/<rev>`` for its deletion), ``dist_tags`` (``-/package/<name>/dist-tags[/<tag>]``),
    ``whoami``, or ``file`` (any other path: a file of the repository)."""

    kind: str
    name: str = ""
    file: str = ""
    tag: str = ""


def is_name(name: str) -> bool:
    return len(name) <= MAX_NAME and NPM_NAME.match(name) is not None


def package_name(npm_name: str) -> str:
    """The Shelf package holding npm package ``npm_name``."""
    return npm_name[1:].replace("/", ":", 1) if npm_name.startswith("@") else npm_name


def npm_name(package: str) -> str:
    """The npm name of Shelf package ``package`` (``scope:name`` is ``@scope/name``)."""
    return "@" + package.replace(":", "/", 1) if ":" in package else package


def tarball_path(npm_name: str, version: str) -> str:
    """Where a version's tarball lives in the repository: ``<name>/-/<basename>-<version>.tgz``."""
    return f"{npm_name}/-/{npm_name.rsplit('/', 1)[-1]}-{version}.tgz"


def check_name(npm_name: str) -> str:
    if not is_name(npm_name):
        raise BadRequest(f"Invalid npm package name '{npm_name[:64]}'")
    return npm_name


def parse(path: str) -> NpmPath:
    """Classify ``path`` (the greedy part after ``/npm/:subject/:repo/``)."""
    path = re.sub("%2[fF]", "/", path.strip("/"))
    if path == "-/whoami":
        return NpmPath("whoami")
    if path.startswith("-/package/"):
        rest = path[len("-/package/") :]
        name, sep, tail = rest.partition("/dist-tags")
        if sep and is_name(name) and (tail == "" or (tail.startswith("/") and len(tail) > 1)):
            return NpmPath("dist_tags", name=name, tag=tail[1:])
        return NpmPath("file", file=path)
    name, sep, rest = path.partition("/-/")
    if sep and is_name(name) and rest:
        file, _, _ = rest.partition("/-rev/")
        return NpmPath("tarball", name=name, file=f"{name}/-/{file}")
    name, sep, rev = path.partition("/-rev/")
    if sep and is_name(name):
        return NpmPath("rev", name=name, tag=rev)
    if is_name(path):
        return NpmPath("packument", name=path)
    return NpmPath("file", file=path)
