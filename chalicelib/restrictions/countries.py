"""Countries: the ISO 3166-1 alpha-2 codes geo restrictions accept, and the country of a request.

Where the country comes from is configured by ``SHELF_COUNTRY_SOURCE`` (``chalicelib/config.py``):

- ``ipdb`` (default): the source IP looked up in the offline database of the ``iptocc`` package
  (delegated registry data compiled into a ~1.8 MB extension; no network, no file to fetch). It is
  imported on first use only, i.e. when a geo-restricted repository is downloaded from.
- ``cloudfront``: CloudFront's ``CloudFront-Viewer-Country`` header. Only sound when the API is reachable
  through CloudFront alone (CloudFront sets the header and overwrites a client's).

Example::

    normalise_codes(["us", "De"])          # ["US", "DE"]
    request_country("8.8.8.8", {})          # "US" (ipdb)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from chalicelib.config import settings
from chalicelib.errors import BadRequest

log = logging.getLogger("shelf")

#: ISO 3166-1 alpha-2 (the 249 officially assigned codes).
_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ISO_COUNTRIES = frozenset(_CODES.split())

CLOUDFRONT_HEADER = "cloudfront-viewer-country"


def normalise_codes(codes: Iterable[str], field: str) -> list[str]:
    """Upper-cased, de-duplicated codes in input order; 400 naming ``field`` for a code that is not
    an assigned ISO 3166-1 alpha-2 code."""
    out: list[str] = []
    for code in codes:
        upper = code.strip().upper()
        if len(upper) != 2 or upper not in ISO_COUNTRIES:
            raise BadRequest(
                f"Invalid value for '{field}': {code!r} is not an ISO 3166 alpha-2 country code (e.g. US)"
            )
        if upper not in out:
            out.append(upper)
    return out


def lookup_ip(ip: str) -> str | None:
    """The country of ``ip`` in the offline database, or None (private, reserved, unassigned, invalid)."""
    try:
        import iptocc  # noqa: PLC0415  (lazy: only geo-restricted downloads pay for it)
    except ImportError:  # pragma: no cover - a deployment without the package
        log.error("iptocc is not installed: the country of %s is unknown", ip)
        return None
    try:
        code = iptocc.country_code(ip)
    except (ValueError, TypeError):
        return None
    return code.upper() if code else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Header ``name`` (lower case) whatever the case the mapping uses."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def request_country(source_ip: str | None, headers: Mapping[str, str]) -> str | None:
    """The requester's country code per ``SHELF_COUNTRY_SOURCE``, or None when unknown."""
    if settings().country_source == "cloudfront":
        value = (header(headers, CLOUDFRONT_HEADER) or "").strip().upper()
        return value if value in ISO_COUNTRIES else None
    return lookup_ip(source_ip) if source_ip else None
