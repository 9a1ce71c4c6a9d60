"""Input validation: names in paths, integers in query strings and JSON request bodies.

Request bodies are pydantic models (strict types, unknown fields ignored); a failure becomes a 400
whose message names the offending field. They are declared as ``Body`` classes, built as pydantic
models on first use, not at import ("Lazy bodies" below). Booleans are ``Flag`` fields (clients send
``"true"`` and ``"false"`` as well as JSON booleans); readme, release-notes and EULA syntaxes are
``Syntax`` fields (any case in, upper case out). A body that is not JSON (invalid UTF-8 included) or
nests deeper than ``MAX_JSON_DEPTH`` is a 400 before any model sees it.

Example (``Field`` and the validators come from this module, not from pydantic)::

    class CreateThing(Body):
        name: str = Field(max_length=64)
    body = parse_body(request.raw_body, CreateThing)
"""

from __future__ import annotations

import json
import re
import sys
import threading
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from chalicelib.errors import BadRequest, NotFound

SUBJECT_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
# Repositories, packages and versions: no slash, no leading dot, printable and short.
REPO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:+-]{0,127}$")
VERSION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:+~-]{0,127}$")

RESERVED_VERSION_NAMES = {"_latest"}

#: Containers nested deeper than this are refused: no request body of the API needs more, and
#: deeper ones would exhaust the recursion of the decoder, pydantic or the services.
MAX_JSON_DEPTH = 64
#: Query-string integers: ASCII digits only (``str.isdigit`` also accepts "١٢" and "²"), at most
#: this many (far below Python's 4300-digit conversion limit and DynamoDB's 38 digits).
MAX_INT_DIGITS = 18
ASCII_DIGITS = re.compile(rf"[0-9]{{1,{MAX_INT_DIGITS}}}")


#: The longest name a path parameter may carry, in UTF-8 bytes. Every name Shelf stores is shorter
#: (at most 128 characters of ASCII); a longer one would only make DynamoDB refuse the key (1,024
#: bytes for range keys). Greedy file paths have their own limit (``content.paths``).
MAX_NAME_BYTES = 255
#: Query parameters that end up in DynamoDB key conditions (names, prefixes, scopes, keys, tags), and
#: their longest value in UTF-8 bytes (a scope is subject/repo/package/version: up to 387 characters).
NAME_QUERY_PARAMS = frozenset(
    {"start_name", "name", "subject", "repo", "scope", "tag", "access_key", "sha1", "g", "a", "q"}
    | {"product", "username", "eula_name", "bt_package"}
)
MAX_QUERY_NAME_BYTES = 512


def _utf8_size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def check_request_names(params: Mapping[str, str], query: Mapping[str, str]) -> None:
    """404 for a path parameter no stored name could match, 400 for such a name in the query (either
    would make DynamoDB refuse the key)."""
    for name, value in params.items():
        if name != "file_path" and _utf8_size(value) > MAX_NAME_BYTES:
            raise NotFound(f"'{value[:32]}…' was not found (names have at most {MAX_NAME_BYTES} bytes)")
    for name in NAME_QUERY_PARAMS & query.keys():
        if _utf8_size(query[name]) > MAX_QUERY_NAME_BYTES:
            raise BadRequest(f"Invalid value for '{name}': at most {MAX_QUERY_NAME_BYTES} bytes in UTF-8")


def non_negative_int(value: str, field: str) -> int:
    """``value`` (a query parameter) as a non-negative integer; 400 naming ``field`` otherwise."""
    if not ASCII_DIGITS.fullmatch(value):
        raise BadRequest(
            f"Invalid value for '{field}': expected a non-negative integer of at most {MAX_INT_DIGITS} digits"
        )
    return int(value)


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


# --- Lazy bodies -----------------------------------------------------------------------------------
# A ``Body`` subclass is written as a pydantic model (annotations, ``Field(...)``, validators, nested
# bodies, subclasses), but ``Field``, ``BeforeValidator``, ``AfterValidator`` and ``model_validator``
# come from this module and only record their arguments, and the class is a declaration: the first
# time it is used (``parse_body``, a call such as ``CreateRepoBody(desc="x")``, any ``model_*``
# attribute, the OpenAPI document) ``Body.model()`` builds the real pydantic model from it, with the
# same name, module, docstring, fields and validators, and every later use goes to that model. So
# ``import app`` imports no pydantic, a route without a body never does, and a route with one pays
# pydantic's import (once per container) and its model's construction on its first request.


class Deferred:
    """A pydantic object (``Field(...)``, ``BeforeValidator(f)``) named at import, made by ``make()``."""

    __slots__ = ("name", "args", "kwargs")

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.name, self.args, self.kwargs = name, args, kwargs

    def make(self) -> Any:
        import pydantic

        return getattr(pydantic, self.name)(*self.args, **self.kwargs)


def Field(*args: Any, **kwargs: Any) -> Any:  # noqa: N802  (pydantic's name)
    """``pydantic.Field``, made when the body is built."""
    return Deferred("Field", args, kwargs)


def BeforeValidator(func: Callable[[Any], Any]) -> Any:  # noqa: N802
    """``pydantic.BeforeValidator``, for ``Annotated`` field types."""
    return Deferred("BeforeValidator", (func,), {})


def AfterValidator(func: Callable[[Any], Any]) -> Any:  # noqa: N802
    """``pydantic.AfterValidator``, for ``Annotated`` field types."""
    return Deferred("AfterValidator", (func,), {})


class _Validator(Deferred):
    """A method decorated with ``model_validator(...)``: decorated when the body is built."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[..., Any], kwargs: dict[str, Any]):
        super().__init__("model_validator", (), kwargs)
        self.func = func

    def make(self) -> Any:
        return super().make()(self.func)


def model_validator(**kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``pydantic.model_validator``, applied when the body is built."""
    return lambda func: _Validator(func, kwargs)


class _BodyType(type):
    """The metaclass of ``Body`` declarations: calls, ``isinstance`` and unknown attributes (pydantic's
    ``model_validate``, ``model_fields``, ``model_json_schema`` ...) go to the built model."""

    def model(cls) -> Any:
        """The pydantic model of this declaration, built on the first call (once, whatever the threads)."""
        built = _MODELS.get(cls)
        if built is None:
            with _BUILDING:  # reentrant: a body's model builds its bases' and nested bodies' first
                built = _MODELS.get(cls) or _MODELS.setdefault(cls, _build(cls))
        return built

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.model()(*args, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.model())

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls.model(), name)


class Body(metaclass=_BodyType):
    """Base of request bodies: strict types, unknown fields ignored (a declaration, built on first use)."""


def needs_one_of(*names: str, exactly: bool = False, value: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``model_config`` of a body whose service refuses it without one of ``names`` (``exactly``:
    with more than one too), for its JSON schema (the OpenAPI document): an ``anyOf`` (``oneOf``) of
    the objects that hold one of them, not null (``value``: one that matches this schema; ``{}``, any)::

        class ReadmeBody(Body):
            model_config = needs_one_of("bintray", "github", exactly=True)
    """
    present = {"not": {"type": "null"}} if value is None else value
    branches = [{"required": [name], "properties": {name: present}} for name in names]
    return {"json_schema_extra": {"oneOf" if exactly else "anyOf": branches}}


_MODELS: dict[type, Any] = {}
_BUILDING = threading.RLock()
#: What the class statement adds to a declaration's namespace that is not the body's.
_NOT_COPIED = frozenset({"__dict__", "__weakref__", "__annotations__", "__module__", "__qualname__"})


def _build(cls: _BodyType) -> Any:
    """The pydantic model declared by ``cls``: its annotations evaluated in its module and made real."""
    import pydantic

    if cls is Body:
        config = pydantic.ConfigDict(strict=True, extra="ignore", defer_build=True)
        return types.new_class("Body", (pydantic.BaseModel,), exec_body=lambda ns: ns.update(
            __module__=__name__, __qualname__="Body", __doc__=Body.__doc__, model_config=config))
    bases = tuple(base.model() for base in cls.__bases__ if isinstance(base, _BodyType))
    if len(bases) != len(cls.__bases__):
        raise TypeError(f"{cls.__qualname__}: a body derives from bodies only")
    scope = vars(sys.modules[cls.__module__])
    annotations = {
        name: _real(eval(hint, scope) if isinstance(hint, str) else hint)  # noqa: S307  (source code)
        for name, hint in cls.__dict__.get("__annotations__", {}).items()
    }
    namespace = {
        name: value.make() if isinstance(value, Deferred) else value
        for name, value in cls.__dict__.items()
        if name not in _NOT_COPIED
    }
    namespace.update(__module__=cls.__module__, __qualname__=cls.__qualname__, __annotations__=annotations)
    return types.new_class(cls.__name__, bases, exec_body=lambda ns: ns.update(namespace))


def _real(hint: Any) -> Any:
    """``hint`` with declarations replaced by their models and ``Deferred`` objects made."""
    if isinstance(hint, _BodyType):
        return hint.model()
    if isinstance(hint, Deferred):
        return hint.make()
    args = typing.get_args(hint)
    if typing.get_origin(hint) is Annotated:
        return Annotated[(_real(args[0]), *(_real(meta) for meta in hint.__metadata__))]
    if not args or typing.get_origin(hint) is Literal:
        return hint
    real = tuple(_real(arg) for arg in args)
    if all(new is old for new, old in zip(real, args, strict=True)):
        return hint
    if isinstance(hint, types.UnionType):
        return typing.Union[real]  # noqa: UP007  (rebuilt from its members)
    if isinstance(hint, types.GenericAlias):  # list[X], dict[str, X]
        return types.GenericAlias(hint.__origin__, real)
    return hint.copy_with(real)  # typing's aliases: Union, Optional


def validation_error(error: BaseException) -> BadRequest | None:
    """The 400 for a pydantic ``ValidationError`` (raised by a body built in a service), else None."""
    core = sys.modules.get("pydantic_core")
    if core is None or not isinstance(error, core.ValidationError):
        return None
    return BadRequest(describe_validation_error(error))


def _flag(value: Any) -> Any:
    """A JSON boolean, or the string ``"true"``/``"false"`` (any case) as clients send them."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool):
        return value
    from pydantic_core import PydanticCustomError

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


B = TypeVar("B")


def parse_json(raw: bytes | None) -> object:
    """Decode a JSON request body; an empty body is ``{}``. 400 when it is not JSON (or not UTF-8)
    or nests deeper than ``MAX_JSON_DEPTH``."""
    if not raw or not raw.strip():
        return {}
    too_deep = BadRequest(f"The request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(raw)
    except ValueError:  # invalid UTF-8 and integers over 4300 digits included
        raise BadRequest("The request body is not valid JSON") from None
    except RecursionError:  # deeper than the decoder's stack
        raise too_deep from None
    if _too_deep(data):
        raise too_deep
    return data


def _too_deep(data: object) -> bool:
    """Whether lists and objects in ``data`` nest deeper than ``MAX_JSON_DEPTH`` (no recursion)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth >= MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_body(raw: bytes | None, model: type[B]) -> B:
    """Validate a JSON object body against ``model`` (a ``Body``); 400 naming the first bad field."""
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    built = model.model() if isinstance(model, _BodyType) else model
    from pydantic import ValidationError

    try:
        return built.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from None


def describe_validation_error(exc: Any) -> str:
    """One readable sentence for the first error of a pydantic ValidationError."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    reason = first["msg"]
    if first["type"] == "missing":
        return f"Missing required field '{field}'"
    return f"Invalid value for '{field}': {reason}"


def flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query flag such as ``attribute_values=1``."""
    return query.get(name, "").lower() in ("1", "true", "yes")
