"""Content paths: file-path validation, matrix parameters, the Maven layout, Debian coordinates."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.errors import BadRequest
from chalicelib.records import dataclass

#: File paths are the range key of ``File`` (and of its indexes): DynamoDB allows 1,024 bytes there,
#: so the limit is in UTF-8 bytes, not characters (日 is three).
MAX_PATH = 1024


@dataclass(frozen=True)
class ContentPath:
    """A path from a greedy route, split from its ``;name=value`` matrix parameters."""

    path: str
    matrix: dict[str, str]


def split_matrix(raw: str) -> ContentPath:
    """``a/b.jar;bt_package=p;publish=1`` -> path ``a/b.jar`` and its matrix parameters."""
    path, _, params = raw.partition(";")
    matrix: dict[str, str] = {}
    for item in params.split(";") if params else []:
        name, _, value = item.partition("=")
        if name:
            matrix[name.strip()] = value.strip()
    return ContentPath(path, matrix)


def storable(path: str) -> bool:
    """Whether ``path`` fits a DynamoDB key (``MAX_PATH`` bytes): a longer one names no file, and looking
    it up would be refused by DynamoDB."""
    return len(path.encode("utf-8", "surrogatepass")) <= MAX_PATH


def check_file_path(path: str) -> str:
    """A repository-relative file path, or 400: 1 to ``MAX_PATH`` bytes in UTF-8, no empty, ``.`` or
    ``..`` segments, no control chars."""
    if not path or not storable(path):
        raise BadRequest(f"Invalid file path: it must have 1 to {MAX_PATH} bytes in UTF-8")
    bad_char = any(ord(ch) < 32 or ch == "\x7f" or "\ud800" <= ch <= "\udfff" for ch in path)  # surrogates
    if path.startswith("/") or bad_char or "\\" in path:
        raise BadRequest(f"Invalid file path {path!r}")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise BadRequest(f"Invalid file path {path!r}: empty, '.' and '..' segments are not allowed")
    return path


def truthy(value: str | None) -> bool:
    """``1``/``true``/``yes`` (any case) as a flag."""
    return (value or "").strip().lower() in ("1", "true", "yes")


def option(
    name: str, matrix: Mapping[str, str], query: Mapping[str, str], headers: Mapping[str, str], header: str
) -> str | None:
    """An upload option given as a matrix parameter, a query parameter or a request header."""
    for source, key in ((matrix, name), (query, name), (headers, header.lower())):
        value = source.get(key)
        if value not in (None, ""):
            return value
    return None


@dataclass(frozen=True)
class MavenCoordinates:
    group_id: str
    artifact_id: str
    version: str


#: The real service's answer to a Maven upload off the layout (400).
MAVEN_OFF_LAYOUT = "Provided artifact path does not comply with Maven's convention"


def maven_coordinates(path: str) -> MavenCoordinates:
    """Coordinates of a path in the Maven layout ``group/path/artifact/version/artifact-version[-cls].ext``;
    400 ``MAVEN_OFF_LAYOUT`` when the path does not follow it."""
    segments = path.split("/")
    if len(segments) < 4:
        raise BadRequest(MAVEN_OFF_LAYOUT)
    *group, artifact, version, filename = segments
    base_version = version[: -len("-SNAPSHOT")] if version.endswith("-SNAPSHOT") else version
    prefixes = (f"{artifact}-{version}", f"{artifact}-{base_version}-")
    if not any(filename.startswith(prefix) for prefix in prefixes):
        raise BadRequest(MAVEN_OFF_LAYOUT)
    rest = filename[len(f"{artifact}-{version}") :] if filename.startswith(f"{artifact}-{version}") else "-"
    if rest and rest[0] not in ".-":
        raise BadRequest(MAVEN_OFF_LAYOUT)
    return MavenCoordinates(".".join(group), artifact, version)


@dataclass(frozen=True)
class DebianCoordinates:
    distributions: list[str]
    components: list[str]
    architectures: list[str]


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def debian_coordinates(matrix: Mapping[str, str], headers: Mapping[str, str]) -> DebianCoordinates | None:
    """Debian coordinates from ``;deb_distribution=;deb_component=;deb_architecture=`` or the
    ``X-Bintray-Debian-*`` headers (comma-separated lists); None when none is given."""
    values = {}
    for name, header in (
        ("distribution", "x-bintray-debian-distribution"),
        ("component", "x-bintray-debian-component"),
        ("architecture", "x-bintray-debian-architecture"),
    ):
        values[name] = _csv(matrix.get(f"deb_{name}") or headers.get(header))
    if not any(values.values()):
        return None
    return DebianCoordinates(values["distribution"], values["component"], values["architecture"])
