"""Typed attribute values: inference, validation, sortable encoding, and the search range grammar.

Range syntax (spec, Attribute Search): the bracket direction gives inclusion, the comma separates
the bounds, an empty bound is open::

    "[1,3]"   1 <= v <= 3        "[,3]"  v <= 3        "[,3["  v < 3
    "]2011-07-14T19:43:37+0100,]"  v after that instant (exclusive)

Bounds are numbers or ISO 8601 dates (both bounds of one kind); anything else is a 400.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.records import dataclass
from chalicelib.timefmt import read_iso

MAX_STRING_BYTES = 800
TYPES = ("string", "date", "number", "boolean", "version")
DATE_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
RANGE = re.compile(r"^([\[\]])([^,]*),([^,]*)([\[\]])$")
NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_date(text: str) -> datetime | None:
    """An ISO 8601 date/time as an aware UTC datetime, or None when ``text`` is not one."""
    text = text.strip()
    if not DATE_SHAPE.match(text):
        return None
    try:
        return read_iso(text)
    except ValueError:
        return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def infer_type(values: list[Any]) -> str:
    """The type of a homogeneous list of values; 400 for a mixed one."""
    kinds = set()
    for value in values:
        if isinstance(value, bool):
            kinds.add("boolean")
        elif is_number(value):
            kinds.add("number")
        elif isinstance(value, str):
            kinds.add("date" if parse_date(value) else "string")
        else:
            raise BadRequest(f"Invalid attribute value {value!r}: use strings, numbers, booleans or dates")
    if kinds == {"date", "string"}:
        kinds = {"string"}
    if len(kinds) > 1:
        raise BadRequest("Non-homogeneous arrays are not accepted: all values of an attribute share one type")
    return kinds.pop() if kinds else "string"


def check_values(name: str, type_: str, values: list[Any]) -> None:
    """400 unless every value fits ``type_``."""
    for value in values:
        ok = {
            "boolean": isinstance(value, bool),
            "number": is_number(value),
            "date": isinstance(value, str) and parse_date(value) is not None,
        }.get(type_, isinstance(value, str))
        if not ok:
            raise BadRequest(f"Invalid value {value!r} of attribute '{name}': expected a {type_}")
        if isinstance(value, str) and len(value.encode()) > MAX_STRING_BYTES:
            # The value is part of an index key (at most 1,024 bytes with the item name).
            raise BadRequest(f"Invalid value of attribute '{name}': at most {MAX_STRING_BYTES} bytes")


def encode_number(value: float) -> str:
    """A fixed-width hex string whose lexical order is the numeric order (IEEE 754 bit trick); -0.0
    is 0. An integer beyond the range of a double is a 400."""
    try:
        number = float(value) or 0.0  # -0.0 == 0.0: one encoding
    except OverflowError:
        raise BadRequest(f"Invalid number {str(value)[:20]}…: out of range") from None
    (bits,) = struct.unpack(">Q", struct.pack(">d", number))
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return f"n:{bits:016x}"


def encode_date(value: datetime) -> str:
    """``d:YYYY-mm-ddTHH:MM:SS.ffffff`` in UTC: the year zero-padded (strftime's ``%Y`` is not below
    1000), so that the text sorts like the instants."""
    value = value.astimezone(UTC)
    return f"d:{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S.%f")


def encode(type_: str, value: Any) -> str:
    """The sortable index form of a stored value of ``type_``."""
    if type_ == "number":
        return encode_number(value)
    if type_ == "boolean":
        return "b:" + ("true" if value else "false")
    if type_ == "date":
        parsed = parse_date(value)
        assert parsed is not None
        return encode_date(parsed)
    return "s:" + value


def query_encodings(value: Any) -> list[str]:
    """The encodings a scalar query value may be stored under (a date string also as a string)."""
    if isinstance(value, bool):
        return ["b:" + ("true" if value else "false")]
    if is_number(value):
        return [encode_number(value)]
    if isinstance(value, str):
        parsed = parse_date(value)
        return [encode_date(parsed), "s:" + value] if parsed else ["s:" + value]
    raise BadRequest(f"Invalid search value {value!r}: use a string, number, boolean, array or range")


@dataclass(frozen=True)
class Range:
    """Encoded bounds of a range clause (None = open) and whether each is inclusive."""

    low: str | None
    low_inclusive: bool
    high: str | None
    high_inclusive: bool
    prefix: str  # "n:" or "d:"

    def contains(self, encoded: str) -> bool:
        if not encoded.startswith(self.prefix):
            return False
        if self.low is not None and (encoded < self.low or (encoded == self.low and not self.low_inclusive)):
            return False
        above = self.high is not None and (
            encoded > self.high or (encoded == self.high and not self.high_inclusive)
        )
        return not above


def looks_like_range(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in ("[", "]")


def parse_range(text: str) -> Range:
    """Parse the spec's range syntax; 400 for anything else."""
    match = RANGE.match(text.strip())
    if not match:
        raise BadRequest(
            f"Invalid range {text!r}: use e.g. '[1,3]', '[,3]', '[,3[' or ']2011-07-14T19:43:37+0100,]'"
        )
    opening, low_text, high_text, closing = match.groups()
    low_text, high_text = low_text.strip(), high_text.strip()
    if not low_text and not high_text:
        raise BadRequest(f"Invalid range {text!r}: at least one bound is required")
    kinds = set()
    bounds: list[str | None] = []
    for bound in (low_text, high_text):
        if not bound:
            bounds.append(None)
        elif NUMBER_TEXT.match(bound):
            kinds.add("n:")
            bounds.append(encode_number(float(bound)))
        elif (parsed := parse_date(bound)) is not None:
            kinds.add("d:")
            bounds.append(encode_date(parsed))
        else:
            raise BadRequest(f"Invalid range {text!r}: bounds are numbers or ISO 8601 dates")
    if len(kinds) != 1:
        raise BadRequest(f"Invalid range {text!r}: both bounds must be numbers or both dates")
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise BadRequest(f"Invalid range {text!r}: the lower bound is above the upper bound")
    return Range(low, opening == "[", high, closing == "]", kinds.pop())
