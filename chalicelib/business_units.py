"""Business units: names carried by a subject's repositories and teams (they have no item of their own).

Used by the usage reports (chalicelib/stats) and the usage thresholds (chalicelib/thresholds).
"""

from __future__ import annotations

from chalicelib.errors import NotFound
from chalicelib.repositories.models import Repository
from chalicelib.teams.models import Team


def names(owner: str) -> set[str]:
    """The subject's business units: those of its repositories and teams (two Queries)."""
    units = {r.business_unit for r in Repository.query(owner) if r.business_unit}
    units |= {t.business_unit for t in Team.query(owner) if t.business_unit}
    return units


def require(owner: str, unit: str) -> None:
    """404 ``BusinessUnit 'x' was not found`` (the observed wording) unless ``owner`` has the unit."""
    if unit not in names(owner):
        raise NotFound(f"BusinessUnit '{unit}' was not found")
