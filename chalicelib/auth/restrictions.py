"""Enforcement of a repository's geo and IP restrictions on downloads.

Called by the central policy (``policy.resolve``) for every download route, after the caller's
rights are known; it reads only the ``Repository`` item the policy already loaded.

Rules:
- IP: a source IP inside a ``black_cidrs`` network is refused; with ``white_cidrs`` set, one outside
  all of them (or an unknown source IP) is refused.
- Geo: with a ``white_list`` set, only its countries may download, and an unknown country is refused;
  with only a ``black_list`` set, its countries are refused and an unknown country is allowed.
- Exempt (the policy's business): callers with the 'admin' right on the repository (its owner, the
  organisation's owner and admins, system administrators), so an owner cannot lock themselves out.

Example::

    check_download(repo, "203.0.113.9", headers)   # None, or Forbidden naming the reason
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from chalicelib.errors import Forbidden
from chalicelib.repositories.models import Repository
from chalicelib.restrictions import countries


def restricted(repo: Repository) -> bool:
    """Whether ``repo`` has any download restriction."""
    return bool(repo.geo_white_list or repo.geo_black_list or repo.ip_white_cidrs or repo.ip_black_cidrs)


def _address(source_ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return None


def _inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, cidrs: list[str]) -> bool:
    if address is None:
        return False
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def check_download(repo: Repository, source_ip: str | None, headers: Mapping[str, str]) -> None:
    """403 when ``repo``'s restrictions refuse a download from ``source_ip`` (and its country)."""
    if not restricted(repo):
        return
    where = f"repository '{repo.owner}/{repo.name}'"
    address = _address(source_ip)
    if repo.ip_black_cidrs and _inside(address, repo.ip_black_cidrs):
        raise Forbidden(f"Downloads from IP address {address} are blocked for {where}")
    if repo.ip_white_cidrs and not _inside(address, repo.ip_white_cidrs):
        shown = address if address is not None else "(unknown)"
        raise Forbidden(f"Downloads from IP address {shown} are not allowed for {where}")
    if repo.geo_white_list or repo.geo_black_list:
        country = countries.request_country(source_ip, headers)
        if repo.geo_white_list and country not in repo.geo_white_list:
            raise Forbidden(f"Downloads from country {country or '(unknown)'} are not allowed for {where}")
        if not repo.geo_white_list and country in (repo.geo_black_list or []):
            raise Forbidden(f"Downloads from country {country} are blocked for {where}")
