"""Input validation: names in paths and JSON request bodies.

Request bodies are pydantic models (strict types, unknown fields ignored); a failure becomes a 400
whose message names the offending field. Booleans are ``Flag`` fields (clients send ``"true"`` and
``"false"`` as well as JSON booleans); readme, release-notes and EULA syntaxes are ``Syntax`` fields
(any case in, upper case out).

Example::

    class CreateThing(Body):
        name: str
    body = parse_body(request.raw_body, CreateThing)
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from chalicelib.errors import BadRequest

SUBJECT_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
# Repositories, packages and versions: no slash, no leading dot, printable and short.
REPO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:+-]{0,127}$")
VERSION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:+~-]{0,127}$")

RESERVED_VERSION_NAMES = {"_latest"}


def check_name(kind: str, value: str, pattern: re.Pattern[str]) -> str:
    """Return ``value`` if it is a valid ``kind`` name, else raise 400 naming the problem."""
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
        raise BadRequest(
            f"Invalid {kind} name {value!r}: use letters, digits and {_allowed(pattern)}, "
            f"starting with a letter or digit"
        )
    return value


def _allowed(pattern: re.Pattern[str]) -> str:
    if pattern is SUBJECT_NAME:
        return "'-' or '_' (at most 64 characters)"
    if pattern is REPO_NAME:
        return "'.', '-' or '_' (at most 64 characters)"
    return "'.', '-', '_', ':', '+' or '~' (at most 128 characters)"


def subject_name(value: str) -> str:
    return check_name("subject", value, SUBJECT_NAME)


def repo_name(value: str) -> str:
    return check_name("repository", value, REPO_NAME)


def package_name(value: str) -> str:
    return check_name("package", value, PACKAGE_NAME)


def version_name(value: str) -> str:
    check_name("version", value, VERSION_NAME)
    if value in RESERVED_VERSION_NAMES:
        raise BadRequest(f"Invalid version name {value!r}: the name is reserved")
    return value


class Body(BaseModel):
    """Base of request bodies: strict types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


def _flag(value: Any) -> Any:
    """A JSON boolean, or the string ``"true"``/``"false"`` (any case) as clients send them."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool):
        return value
    raise PydanticCustomError("flag", "Input should be true or false")


#: A boolean field of a request body: ``true``/``false`` or ``"true"``/``"false"``; anything else is a 400.
Flag = Annotated[bool, BeforeValidator(_flag)]

#: Syntax names of readmes, release notes and EULAs, as answered (upper case).
MARKDOWN = "MARKDOWN"


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


#: A syntax field: accepted in any case, kept in upper case.
Syntax = Annotated[Literal["MARKDOWN", "ASCIIDOC", "PLAIN_TEXT"], BeforeValidator(_upper)]


def syntax_name(stored: str | None) -> str:
    """The syntax to answer for a stored one (items written before upper case hold lower case)."""
    return (stored or MARKDOWN).upper()


B = TypeVar("B", bound=BaseModel)


def parse_json(raw: bytes | None) -> object:
    """Decode a JSON request body; an empty body is ``{}``."""
    if not raw or not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON") from None


def parse_body(raw: bytes | None, model: type[B]) -> B:
    """Validate a JSON object body against ``model``; 400 naming the first bad field."""
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence for the first error of a pydantic ValidationError."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    reason = first["msg"]
    if first["type"] == "missing":
        return f"Missing required field '{field}'"
    return f"Invalid value for '{field}': {reason}"
