"""Evaluating usage thresholds: the scheduled job (``functions.py``) compares each threshold with the
statistics' aggregates and alerts once per threshold, kind and period.

Usage comes from the statistics domain's rows (``chalicelib/stats``; never recomputed here): download
bytes of the UTC day and month of the organisation (``s#<org>``), a repository (``r#<repo id>``) or a
business unit (``s#<org>``, periods ``bu#<month>#<unit>`` and ``bud#<day>#<unit>``), and the current storage
(``st#<org>``: ``total``, ``r#<repo id>``, ``bu#<unit>``).

Once per period: an alert is claimed with a conditional put of ``ThresholdAlert`` (key
``<org>#<scope>#<kind>#<period>``), so a second run, or a concurrent one, sends nothing. The claim is
a lease: a run that crashed before the email went out is taken over after ``LEASE_SECONDS`` (the
stream event's id is derived from the key, so the stream shows it once even then). Just before the
email the alert becomes ``mailing``, which is never taken over: a run that sent the email and then
failed to mark it ``sent`` does not get it sent twice; a failed send sets it back to ``sending``
(taken over after the lease). A new period (the next day or month) has a new key and alerts again.

Example::

    run()          # what the schedule does: Report(thresholds=3, alerts=1)
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib import db, events, mail
from chalicelib.accounts.models import ADMIN, OWNER, Membership, Subject
from chalicelib.events import UsageThresholdExceeded
from chalicelib.records import dataclass
from chalicelib.stats.models import Stat, day, month, repo_key, storage_key, subject_key
from chalicelib.thresholds.models import (
    BUSINESS_UNIT,
    KINDS,
    LISTED,
    REPO,
    ThresholdAlert,
    UsageThreshold,
)
from chalicelib.timefmt import iso, now, now_ms

log = logging.getLogger("shelf")

#: How long a run holds an alert it is sending before another run may take it over.
LEASE_SECONDS = 300
#: Alerts are remembered this long (past the longest period, a month).
KEEP = timedelta(days=40)


@dataclass
class Report:
    thresholds: int = 0
    alerts: int = 0


def _bytes(key: str, period: str) -> int:
    try:
        return int(Stat.get(key, period).bytes or 0)
    except DoesNotExist:
        return 0


def usage(threshold: UsageThreshold, at: datetime) -> dict[str, int | None]:
    """What the threshold's scope used: storage now, download bytes of ``at``'s UTC month and day
    (None: not measured for that scope)."""
    org, kind = threshold.org, threshold.kind
    d, mo = day(at), month(at)
    if kind == REPO:
        key, storage = repo_key(threshold.repo_id or ""), f"r#{threshold.repo_id}"
        monthly, daily = _bytes(key, f"M#{mo}"), _bytes(key, f"d#{d}")
    elif kind == BUSINESS_UNIT:
        storage = f"bu#{threshold.name}"
        unit = threshold.name
        monthly, daily = (
            _bytes(subject_key(org), f"bu#{mo}#{unit}"),
            _bytes(subject_key(org), f"bud#{d}#{unit}"),
        )
    else:
        storage = "total"
        monthly, daily = _bytes(subject_key(org), f"M#{mo}"), _bytes(subject_key(org), f"d#{d}")
    return {
        "monthly_storage_bytes": _bytes(storage_key(org), storage),
        "monthly_download_bytes": monthly,
        "daily_download_bytes": daily,
    }


def period_of(kind: str, at: datetime) -> str:
    return day(at) if kind == "daily_download_bytes" else month(at)


def alert_key(threshold: UsageThreshold, kind: str, period: str) -> str:
    return f"{threshold.org}#{threshold.scope}#{kind}#{period}"


def recipients(threshold: UsageThreshold) -> list[str]:
    """The threshold's addresses and, with ``alert_to_admins``, the organisation's owners' and
    admins' (one Query and one BatchGet)."""
    out = set(threshold.alert_to_emails or [])
    if threshold.alert_to_admins:
        admins = [m.member for m in Membership.query(threshold.org) if m.type in (OWNER, ADMIN)]
        out |= {s.email for s in Subject.batch_get(admins) if s.email} if admins else set()
    return sorted(out)


def _claim(key: str, used: int, limit: int) -> int | None:
    """Take the alert ``key`` (new, or a crashed run's expired lease, unless that run may have sent
    the email: ``mailing``); returns the lease's end (ms), None when it is taken."""
    at = now_ms()
    free = ThresholdAlert.key.does_not_exist() | (
        (ThresholdAlert.state == "sending") & (ThresholdAlert.lease_until_ms < at)
    )
    lease = at + LEASE_SECONDS * 1000
    item = ThresholdAlert(
        key, state="sending", lease_until_ms=lease, usage=used, limit=limit, expires_at=now() + KEEP
    )
    try:
        item.save(condition=free)
    except PutError as error:
        if db.condition_failed(error):
            return None
        raise
    return lease


def _set_state(key: str, state: str, lease: int) -> bool:
    """Set the state of alert ``key`` while this run's lease holds it; False when another run took it."""
    try:
        ThresholdAlert(key).update(
            actions=[ThresholdAlert.state.set(state)], condition=ThresholdAlert.lease_until_ms == lease
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def _message(threshold: UsageThreshold, kind: str, period: str, used: int, limit: int) -> tuple[str, str]:
    what = {"organization": f"organization {threshold.org}"}.get(
        threshold.kind, f"{threshold.kind.replace('_', ' ')} {threshold.name} of organization {threshold.org}"
    )
    label = kind.replace("_bytes", "").replace("_", " ")
    subject = f"Usage threshold exceeded: {label} of {what}"
    body = (
        f"The {label} of {what} is {used} bytes in {period}, above its threshold of {limit} bytes.\n\n"
        f"This alert is sent once for {period}. Thresholds: /usage_threshold/{threshold.kind}/"
        f"{threshold.org}{'/' + threshold.name if threshold.name else ''}\n"
    )
    return subject, body


def alert(threshold: UsageThreshold, kind: str, period: str, used: int, limit: int) -> bool:
    """Alert once for (threshold, kind, period): the stream event and the email; whether this run
    sent it."""
    key = alert_key(threshold, kind, period)
    lease = _claim(key, used, limit)
    if lease is None:
        return False
    events.publish(
        UsageThresholdExceeded(
            id=hashlib.sha256(key.encode()).hexdigest()[:32],
            org=threshold.org,
            scope=threshold.kind,
            name=threshold.name,
            threshold=kind,
            limit=limit,
            usage=used,
            period=period,
        )
    )
    to = recipients(threshold)
    if to:
        # From here on the email may be out: a ``mailing`` alert is never taken over (its email would
        # go twice when only the ``sent`` mark below failed).
        try:
            if not _set_state(key, "mailing", lease):
                return False  # this run outlived its lease: the run that took the alert over sends it
            mail.send(to, *_message(threshold, kind, period, used, limit))
        except Exception:
            try:  # not sent (or the mark's answer lost): a run after the lease takes it over
                _set_state(key, "sending", lease)
            except Exception as error:  # noqa: BLE001  (the email's failure is the one to raise)
                log.warning("usage threshold alert %s left mailing, not sent: %s", key, error)
            raise
    ThresholdAlert(key).update(actions=[ThresholdAlert.state.set("sent"), ThresholdAlert.sent_at.set(now())])
    log.info("usage threshold alert %s: %s > %s, to %s", key, used, limit, to)
    return True


def evaluate(threshold: UsageThreshold, at: datetime) -> int:
    """Alert every crossed limit of ``threshold`` (usage above a limit other than 0); how many alerts
    this run sent."""
    used = usage(threshold, at)
    sent = 0
    for kind in KINDS:
        limit = int(getattr(threshold, kind) or 0)
        value = used.get(kind)
        if limit > 0 and value is not None and value > limit:
            sent += alert(threshold, kind, period_of(kind, at), value, limit)
    return sent


def run(at: datetime | None = None) -> Report:
    """Evaluate every threshold (a paginated Query of ``all_index``)."""
    at = at or now()
    report = Report()
    for threshold in UsageThreshold.all_index.query(LISTED):
        report.thresholds += 1
        report.alerts += evaluate(threshold, at)
    if report.alerts:
        log.info("usage thresholds at %s: %s", iso(at), report)
    return report
