"""Proprietary license services: list, create, update and delete a subject's custom licenses, and
the check of a package's ``custom_licenses`` against them.

Proprietary licenses are a Premium feature (``plans``: "proprietary_licenses", a 400 as observed),
listing them too; a named license that does not exist is a 404 first.

Example::

    create_license(org, parse_license_body(raw))           # 201 body: render(license)
    unknown_custom_licenses(owner, ["eula-1", "nope"])     # ["nope"]
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib import db, plans
from chalicelib.accounts.models import Subject
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.licenses.models import ProprietaryLicense, owner_key
from chalicelib.licenses.oss import OSS_LICENSE_NAMES
from chalicelib.timefmt import now
from chalicelib.validation import Body, Field, parse_json

#: Names appear in paths (PATCH/DELETE ``.../licenses/:custom_license_name``): no slash, no space.
LICENSE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
OSS_LOWER = frozenset(name.lower() for name in OSS_LICENSE_NAMES)


class LicenseBody(Body):
    """``POST``/``PATCH`` ``/{orgs|users}/{subject}/licenses[/{name}]`` (one license)."""

    name: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=4000)
    url: str | None = Field(default=None, max_length=2048)


class NewLicenseBody(LicenseBody):
    """``POST /{orgs|users}/{subject}/licenses``: the name is required."""

    name: str = Field(max_length=64)


def parse_license_body(raw: bytes | None, model: type[LicenseBody] = LicenseBody) -> LicenseBody:
    """The license of a request body (``model``): a JSON object, or the spec's one-element list of it
    (else 400)."""
    data = parse_json(raw)
    if isinstance(data, list):
        if len(data) != 1:
            raise BadRequest("The request body must be one license: a JSON object or a list of one object")
        data = data[0]
    if not isinstance(data, dict):
        raise BadRequest("The request body must be one license: a JSON object or a list of one object")
    body = model.model_validate(data)
    if body.url:
        parts = urlsplit(body.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"Invalid value for 'url': {body.url!r} is not an http or https URL")
    return body


def check_license_name(name: str) -> str:
    """``name`` if it is a valid custom license name, else 400."""
    if not LICENSE_NAME.fullmatch(name):
        raise BadRequest(
            f"Invalid license name {name!r}: use letters, digits, '.', '_', '+' or '-' "
            "(at most 64 characters), starting with a letter or digit"
        )
    if name.lower() in OSS_LOWER:
        raise BadRequest(f"Invalid license name {name!r}: it is the name of an OSS license")
    return name


def render(lic: ProprietaryLicense) -> dict[str, str | None]:
    """The spec's license JSON."""
    return {"name": lic.name, "description": lic.description, "url": lic.url}


def list_licenses(subject: Subject) -> list[ProprietaryLicense]:
    """The subject's licenses, by name (one Query; Premium)."""
    plans.require(subject, "proprietary_licenses")
    return list(ProprietaryLicense.query(owner_key(subject)))


def get_license(subject: Subject, name: str) -> ProprietaryLicense:
    """License ``name`` of ``subject`` or a 404."""
    return db.get_or_404(
        ProprietaryLicense, owner_key(subject), name, missing=f"License '{name}' was not found"
    )


def _require_plan(subject: Subject, name: str) -> None:
    """The plan check of a named license: its 404 first."""
    plans.require(subject, "proprietary_licenses", exists=lambda: get_license(subject, name))


def create_license(subject: Subject, body: LicenseBody) -> ProprietaryLicense:
    """Create a license of ``subject`` (Premium): 400 bad fields, 409 if the name exists."""
    plans.require(subject, "proprietary_licenses")
    if body.name is None:
        raise BadRequest("Missing required field 'name'")
    created = now()
    lic = ProprietaryLicense(
        owner_key(subject),
        check_license_name(body.name),
        owner=subject.name,
        description=body.description,
        url=body.url or None,
        created=created,
        updated=created,
    )
    try:
        lic.save(condition=ProprietaryLicense.name.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            raise Conflict(f"License '{body.name}' already exists for '{subject.name}'") from None
        raise
    return lic


def update_license(subject: Subject, name: str, body: LicenseBody) -> ProprietaryLicense:
    """Update ``description``/``url`` of license ``name`` (Premium): a field given as null or "" is
    removed, one not given is kept; 404 unknown license, 400 for a different ``name`` (no renaming)."""
    _require_plan(subject, name)
    if body.name is not None and body.name != name:
        raise BadRequest("A license cannot be renamed: create a new one and delete this one")
    given = body.model_fields_set
    actions = [ProprietaryLicense.updated.set(now())]
    fields = ((ProprietaryLicense.description, body.description), (ProprietaryLicense.url, body.url))
    for attr, value in fields:
        if attr.attr_name in given:
            actions.append(attr.set(value) if value else attr.remove())
    lic = ProprietaryLicense(owner_key(subject), name)
    try:
        lic.update(actions=actions, condition=ProprietaryLicense.name.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            raise NotFound(f"License '{name}' was not found") from None
        raise
    return lic


def delete_license(subject: Subject, name: str) -> None:
    """Delete license ``name``; 404 if unknown. Packages that name it keep the name in
    ``custom_licenses`` (there is no reverse index; the name can be re-created). Premium."""
    _require_plan(subject, name)
    try:
        ProprietaryLicense(owner_key(subject), name).delete(condition=ProprietaryLicense.name.exists())
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(f"License '{name}' was not found") from None
        raise


def unknown_custom_licenses(owner: Subject, names: list[str]) -> list[str]:
    """The entries of ``names`` that are not licenses of ``owner``, in input order (one BatchGetItem)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    key = owner_key(owner)
    keys = [(key, name) for name in wanted if LICENSE_NAME.fullmatch(name)]
    found = {lic.name for lic in ProprietaryLicense.batch_get(keys, attributes_to_get=["owner_key", "name"])}
    return [name for name in names if name not in found]
