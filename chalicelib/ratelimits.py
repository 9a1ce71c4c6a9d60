"""API query limits (the spec's *Limits*): a non-Premium caller may make so many queries a day and a
month on resources that belong neither to them nor to their organisations; beyond that, 429.

Every counted request costs one conditional ``UpdateItem`` on the caller's own counter for the month
(``RateCounter``: the month's total and the current day's), never a shared item. A caller over
its quota is remembered in the container until the period ends, so a flood of refused requests does
not hammer the counter either. Anonymous callers are counted per source IP.

Example::

    status = charge("user:alice")      # RateStatus(limit=1440, remaining=1439) or TooManyRequests
    status.headers()                    # {"X-RateLimit-Limit": "1440", "X-RateLimit-Remaining": "1439"}
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.config import settings
from chalicelib.db import condition_failed, table_meta
from chalicelib.errors import TooManyRequests
from chalicelib.records import dataclass
from chalicelib.timefmt import now as timefmt_now


class RateCounter(Model):
    """Queries of one caller in one UTC month, and on the last day it made one."""

    Meta = table_meta("rate_counters")

    #: ``user:<name>`` or ``ip:<address>``
    caller = UnicodeAttribute(hash_key=True)
    #: ``YYYY-MM``
    month = UnicodeAttribute(range_key=True)
    total = NumberAttribute(default=0)
    #: ``YYYY-MM-DD`` of ``day_total``
    day = UnicodeAttribute(null=True)
    day_total = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


MODELS = (RateCounter,)


@dataclass(frozen=True)
class RateStatus:
    """The binding quota (the one with fewer queries left) after this request."""

    limit: int
    remaining: int

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}


#: Callers known to be over quota in this container: caller -> (period it applies to, status).
_exhausted: dict[str, tuple[str, RateStatus]] = {}
_lock = threading.Lock()

#: Without a limit, a bound no counter reaches.
UNLIMITED = 2**62


def charge(caller: str, now: datetime | None = None) -> RateStatus | None:
    """Count one query of ``caller``; None when no limit is configured, 429 beyond the quota.

    The usual request is one ``UpdateItem`` (same day); a caller's first query of a day is two.
    """
    conf = settings()
    daily, monthly = conf.rate_limit_daily, conf.rate_limit_monthly
    if daily <= 0 and monthly <= 0:
        return None
    now = now or timefmt_now()
    month, today = now.strftime("%Y-%m"), now.strftime("%Y-%m-%d")
    with _lock:
        known = _exhausted.get(caller)
    if known is not None and known[0] in (month, today):
        raise _refusal(known[1])
    day_bound = daily if daily > 0 else UNLIMITED
    month_bound = monthly if monthly > 0 else UNLIMITED
    month_ok = RateCounter.total.does_not_exist() | (RateCounter.total < month_bound)
    counter = RateCounter(caller, month)
    expires = _month_end(now) + timedelta(days=2)
    try:
        # The usual case: another query on the same day.
        counter.update(
            actions=[RateCounter.total.add(1), RateCounter.day_total.add(1)],
            condition=(RateCounter.day == today) & (RateCounter.day_total < day_bound) & month_ok,
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        try:
            # The caller's first query of the day (or of the month).
            counter.update(
                actions=[
                    RateCounter.total.add(1),
                    RateCounter.day.set(today),
                    RateCounter.day_total.set(1),
                    RateCounter.expires_at.set(expires),
                ],
                condition=(RateCounter.day.does_not_exist() | (RateCounter.day != today)) & month_ok,
            )
        except UpdateError as error2:
            if not condition_failed(error2):
                raise
            return _over_quota(caller, now, daily, monthly)
    return _binding(daily, int(counter.day_total or 0), monthly, int(counter.total or 0))


def _binding(daily: int, used_day: int, monthly: int, used_month: int) -> RateStatus:
    """The quota with fewer queries left (ties: the monthly one, as in the spec's sample)."""
    candidates = []
    if monthly > 0:
        candidates.append(RateStatus(monthly, max(monthly - used_month, 0)))
    if daily > 0:
        candidates.append(RateStatus(daily, max(daily - used_day, 0)))
    return min(candidates, key=lambda status: status.remaining)


def _over_quota(caller: str, now: datetime, daily: int, monthly: int) -> RateStatus:
    """Remember the refusal until the exhausted period ends, then raise 429."""
    counter = RateCounter.get(caller, now.strftime("%Y-%m"))  # exists: a condition on it failed
    used_month = int(counter.total or 0)
    used_day = int(counter.day_total or 0) if counter.day == now.strftime("%Y-%m-%d") else 0
    status = _binding(daily, used_day, monthly, used_month)
    monthly_exhausted = monthly > 0 and used_month >= monthly
    period = now.strftime("%Y-%m") if monthly_exhausted else now.strftime("%Y-%m-%d")
    with _lock:
        _exhausted[caller] = (period, status)
    raise _refusal(status)


def _refusal(status: RateStatus) -> TooManyRequests:
    return TooManyRequests(
        "API query limit exceeded: non-Premium accounts may make "
        f"{settings().rate_limit_daily} queries a day and {settings().rate_limit_monthly} a month "
        "on resources of other subjects",
        status.headers(),
    )


def _month_end(now: datetime) -> datetime:
    first_of_next = (now.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_of_next.replace(hour=0, minute=0, second=0, microsecond=0)


def forget_exhausted() -> None:
    """Clear the container's memory of exhausted callers (tests)."""
    with _lock:
        _exhausted.clear()
