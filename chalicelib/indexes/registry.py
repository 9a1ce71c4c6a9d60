"""Index calculators by repository type, and the job a calculator is handed.

A calculator is a module with two functions (heavy imports inside them, so serving stays light)::

    def claims(repo: Repository, path: str) -> bool:
        '''Is ``path`` (under /dl/:subject/:repo/) an index file of this format?'''
        return path.startswith("dists/")

    def calculate(job: Job) -> dict[str, bytes | None]:
        '''The index files to write (path -> content) and to remove (path -> None). Paths not named
        keep their content, unless ``job.changed`` is None (from scratch): then they are removed.'''

Optionally ``metadata(path, data) -> dict | None`` reads an upload's bytes once (attribute name of the
``File`` item -> value, e.g. ``{"deb_control": ...}``), so calculations need not read packages again.

Register it by repository type in ``CALCULATOR_MODULES`` (``"maven": "chalicelib.maven.index"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import field
from types import ModuleType
from typing import Any, Protocol

from chalicelib.content.models import File
from chalicelib.records import dataclass
from chalicelib.repositories.models import Repository

#: Repository type -> the module of its calculator.
CALCULATOR_MODULES: dict[str, str] = {
    "debian": "chalicelib.indexes.debian",
    "rpm": "chalicelib.indexes.rpm",
    "maven": "chalicelib.maven.index",
}

Output = dict[str, bytes | None]


class Signer(Protocol):
    """Signs index files with the key the repository's flags name (``gpg_sign_metadata``)."""

    def clear(self, data: bytes) -> bytes: ...  # a clear-signed message (Debian InRelease)

    def detached(self, data: bytes) -> bytes: ...  # an armored detached signature (.gpg/.asc)


@dataclass
class Job:
    """What a calculation of one repository's index is given.

    ``changed``: file paths published, deleted or overridden since the last calculation (None: from
    scratch, every published file counts); ``scopes``: paths asked for with calc_metadata;
    ``signer``: None when the repository's metadata is not signed.
    """

    repo: Repository
    changed: frozenset[str] | None
    scopes: frozenset[str]
    signer: Signer | None
    #: Every published file of the repository (one Query of the repository's files).
    files: Callable[[], Iterator[File]]
    #: One file by path (consistent read), published or not; None when absent.
    file: Callable[[str], File | None]
    #: The content of index file ``path`` in the generation being replaced (None: absent).
    previous: Callable[[str], bytes | None]
    #: The paths of every index file of that generation (one Query).
    paths: Callable[[], list[str]]
    #: The bytes of a stored file by SHA-256 (reads S3).
    blob: Callable[[str], bytes]
    #: Numbers for the calculator to report (e.g. ``{"parsed": 3}``), logged and kept by bench.
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.changed is None


def calculator(repo_type: str) -> ModuleType | None:
    """The calculator module of a repository type (None: the type has no index)."""
    module = CALCULATOR_MODULES.get(repo_type)
    return importlib.import_module(module) if module else None


def metadata(repo_type: str, path: str, data: bytes) -> dict[str, Any] | None:
    """What the calculator of ``repo_type`` keeps on the file item of an upload (its optional
    ``metadata(path, data)``: attribute name -> value, e.g. a .deb's control paragraph), or None."""
    module = calculator(repo_type)
    reader = getattr(module, "metadata", None) if module else None
    return reader(path, data) if reader else None


def claims(repo: Repository, path: str) -> bool:
    """Is ``path`` an index file of ``repo``'s format (served from the index, not from content)?"""
    module = calculator(repo.type)
    return bool(module and module.claims(repo, path))
