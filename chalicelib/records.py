"""``dataclass``: ``dataclasses.dataclass``, applied when the class is first instantiated.

``dataclasses.dataclass`` generates and compiles ``__init__``, ``__repr__``, ``__eq__`` (and for frozen
classes ``__hash__``, ``__setattr__``, ``__delattr__``) when the class statement runs: 0.3–1.4 ms of CPU
per class, ~20 ms for the 32 that ``import app`` declares, most of which no request needs. This
decorator takes the same options and leaves a stub ``__init__`` that applies ``dataclasses.dataclass``
(to the class's dataclass bases first) on the first instantiation, then runs the real one; the class
is then exactly the dataclass. ``dataclasses.fields(cls)`` needs one instance to exist first
(``fields(instance)`` always works).

Example::

    from dataclasses import field

    from chalicelib.records import dataclass

    @dataclass(frozen=True)
    class Range:
        low: int
        high: int | None = None
        tags: list[str] = field(default_factory=list)
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T", bound=type)

#: Classes declared and not yet made dataclasses, with their options.
_PENDING: dict[type, dict[str, Any]] = {}
_LOCK = threading.Lock()


@dataclass_transform()
def dataclass(cls: T | None = None, /, **options: Any) -> Any:
    """``@dataclass`` or ``@dataclass(frozen=True, ...)``, as ``dataclasses.dataclass``, made on first use."""

    def declare(cls: T) -> T:
        if options.get("slots"):  # slots make a new class: nothing to defer
            return dataclasses.dataclass(cls, **options)
        _PENDING[cls] = options

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
            make(cls)
            cls.__init__(self, *args, **kwargs)

        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = __init__  # type: ignore[misc]
        return cls

    return declare if cls is None else declare(cls)


def make(cls: type) -> type:
    """Apply ``dataclasses.dataclass`` to ``cls`` (and to its pending bases, first), if not yet done."""
    with _LOCK:
        for klass in reversed(cls.__mro__):
            options = _PENDING.pop(klass, None)
            if options is not None:
                del klass.__init__  # dataclasses keeps an __init__ the class defines itself
                dataclasses.dataclass(klass, **options)
    return cls

