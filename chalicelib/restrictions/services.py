"""Geo and IP restriction management (spec: Geo Restrictions, IP Restrictions).

The lists live on the ``Repository`` item (``geo_white_list``, ``geo_black_list``, ``ip_white_cidrs``,
``ip_black_cidrs``), so downloads check them without another read (``check.py``). Every change
increments ``restrictions_rev``; PATCH of the IP lists is a read-modify-write conditioned on it.

Plans (``chalicelib/plans.py``, checked by the views as observed): geo restrictions need Enterprise
for reading, setting and deleting alike ("geo_restrictions"); IP restrictions are read on every
plan, and set, updated and deleted from Premium on ("ip_restrictions").

Example::

    set_geo(repo, GeoBody(white_list=["us", "CA"]))   # stores ["US", "CA"], clears black_list
    patch_ip(repo, IpPatchBody(add=IpBody(black_cidrs=["10.0.0.0/8"])))
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import db, events
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.events import RepositoryAccessChanged
from chalicelib.repositories.models import Repository
from chalicelib.restrictions.countries import normalise_codes
from chalicelib.validation import Body, Field

MAX_ENTRIES = 500
ATTEMPTS = 5
LISTS = ("geo_white_list", "geo_black_list", "ip_white_cidrs", "ip_black_cidrs")


class GeoBody(Body):
    """``PUT /repos/{subject}/{repo}/geo_restrictions``."""

    white_list: list[str] | None = Field(default=None, max_length=MAX_ENTRIES)
    black_list: list[str] | None = Field(default=None, max_length=MAX_ENTRIES)


class IpBody(Body):
    """``PUT /repos/{subject}/{repo}/ip_restrictions`` (the spec's sample nests a list: accepted)."""

    white_cidrs: list[str | list[str]] | None = Field(default=None, max_length=MAX_ENTRIES)
    black_cidrs: list[str | list[str]] | None = Field(default=None, max_length=MAX_ENTRIES)


class IpPatchBody(Body):
    """``PATCH /repos/{subject}/{repo}/ip_restrictions``."""

    add: IpBody | None = None
    remove: IpBody | None = None


# --- geo --------------------------------------------------------------------------------------


def geo(repo: Repository) -> dict[str, list[str]]:
    """The spec's geo restriction JSON."""
    return {"white_list": list(repo.geo_white_list or []), "black_list": list(repo.geo_black_list or [])}


def set_geo(repo: Repository, body: GeoBody) -> dict[str, str]:
    """Set one list: the given non-empty list replaces both (the other is cleared); two non-empty
    lists are a 400; two empty ones lift the geo restrictions."""
    white = normalise_codes(body.white_list or [], "white_list")
    black = normalise_codes(body.black_list or [], "black_list")
    if white and black:
        raise BadRequest(
            "Geo restrictions are updated on one list at a time: give 'white_list' or 'black_list', not both"
        )
    _write(repo, {"geo_white_list": white, "geo_black_list": black})
    return {
        "message": f"The Geo Restrictions for repo path {repo.owner}/{repo.name} were updated successfully"
    }


def delete_geo(repo: Repository) -> dict[str, list[str]]:
    """Lift the geo restrictions; the (empty) lists."""
    _write(repo, {"geo_white_list": [], "geo_black_list": []})
    return geo(repo)


# --- ip ---------------------------------------------------------------------------------------


def ip(repo: Repository) -> dict[str, list[str]]:
    """The spec's IP restriction JSON."""
    return {"white_cidrs": list(repo.ip_white_cidrs or []), "black_cidrs": list(repo.ip_black_cidrs or [])}


def _flatten(values: Iterable[str | list[str]] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend([value] if isinstance(value, str) else value)
    return out


def normalise_cidrs(values: Iterable[str | list[str]] | None, field: str) -> list[str]:
    """CIDRs in canonical form (host bits cleared, ``/32`` or ``/128`` added to a bare address),
    de-duplicated in input order; 400 naming ``field`` for one that is not a CIDR."""
    out: list[str] = []
    for value in _flatten(values):
        try:
            network = str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise BadRequest(
                f"Invalid value for '{field}': {value!r} is not a CIDR (e.g. 10.0.0.1/32)"
            ) from None
        if network not in out:
            out.append(network)
    if len(out) > MAX_ENTRIES:
        raise BadRequest(f"Invalid value for '{field}': at most {MAX_ENTRIES} CIDRs")
    return out


def set_ip(repo: Repository, body: IpBody) -> dict[str, list[str]]:
    """Replace both CIDR lists (a list not given becomes empty)."""
    white = normalise_cidrs(body.white_cidrs, "white_cidrs")
    black = normalise_cidrs(body.black_cidrs, "black_cidrs")
    _write(repo, {"ip_white_cidrs": white, "ip_black_cidrs": black})
    return ip(repo)


def patch_ip(repo: Repository, body: IpPatchBody) -> dict[str, list[str]]:
    """Add then remove CIDRs (compared in canonical form; removing an absent one is not an error)."""
    add = body.add or IpBody()
    remove = body.remove or IpBody()
    changes = {
        "ip_white_cidrs": (
            normalise_cidrs(add.white_cidrs, "add.white_cidrs"),
            normalise_cidrs(remove.white_cidrs, "remove.white_cidrs"),
        ),
        "ip_black_cidrs": (
            normalise_cidrs(add.black_cidrs, "add.black_cidrs"),
            normalise_cidrs(remove.black_cidrs, "remove.black_cidrs"),
        ),
    }
    for attempt in range(ATTEMPTS):
        values = {}
        for attr, (added, removed) in changes.items():
            current = list(getattr(repo, attr) or [])
            merged = current + [cidr for cidr in added if cidr not in current]
            values[attr] = [cidr for cidr in merged if cidr not in removed]
        if _write(repo, values, check_rev=True):
            return ip(repo)
        db.backoff(attempt)
        repo = _reload(repo)
    raise Conflict("The IP restrictions changed concurrently too often; try again")


def delete_ip(repo: Repository) -> dict[str, str]:
    """Lift the IP restrictions."""
    _write(repo, {"ip_white_cidrs": [], "ip_black_cidrs": []})
    return {"message": f"Successfully deleted restriction for repo /{repo.owner}/{repo.name}"}


# --- storage ----------------------------------------------------------------------------------


def _reload(repo: Repository) -> Repository:
    try:
        fresh = Repository.get(repo.owner, repo.name)
    except DoesNotExist:
        fresh = None
    if fresh is None or fresh.id != repo.id:
        raise NotFound(f"Repo '{repo.name}' was not found")
    return fresh


def _write(repo: Repository, values: dict[str, list[str]], check_rev: bool = False) -> bool:
    """Store ``values`` (an empty list removes the attribute) on ``repo``, bumping ``restrictions_rev``.

    404 if the repository was deleted (or re-created) meanwhile; with ``check_rev``, False (nothing
    written) if another change came first.
    """
    actions = [Repository.restrictions_rev.add(1)]
    for name, value in values.items():
        attr = getattr(Repository, name)
        actions.append(attr.set(value) if value else attr.remove())
    condition = Repository.id == repo.id
    if check_rev:
        rev = repo.restrictions_rev
        same_rev = Repository.restrictions_rev == rev
        condition &= Repository.restrictions_rev.does_not_exist() if rev is None else same_rev
    try:
        repo.update(actions=actions, condition=condition)
    except UpdateError as error:
        if not db.condition_failed(error):
            raise
        if check_rev:
            return False  # a concurrent change, or the repository is gone: the caller reloads
        raise NotFound(f"Repo '{repo.name}' was not found") from None
    events.publish(RepositoryAccessChanged(owner=repo.owner, repo=repo.name, repo_id=repo.id))
    return True
