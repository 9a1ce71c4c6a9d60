"""Timestamps in the spec's ISO 8601 form: ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.errors import BadRequest


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def now_ms() -> int:
    """The current time in Unix epoch milliseconds (expiries, signed URLs, leases)."""
    return int(now().timestamp() * 1000)


def iso(value: datetime | None) -> str | None:
    """Render ``value`` as ``2026-11-24T19:38:44.123Z`` (None stays None)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def read_iso(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z``, an offset, or none: UTC) as an aware UTC datetime; ValueError
    when ``value`` is not one."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is out of the range of dates") from None


def parse_iso(value: str, field: str) -> datetime:
    """Parse an ISO 8601 timestamp sent by a client; 400 naming ``field`` when it is not one."""
    try:
        return read_iso(value)
    except ValueError:
        raise BadRequest(f"'{field}' must be an ISO 8601 timestamp, got {value!r}") from None
