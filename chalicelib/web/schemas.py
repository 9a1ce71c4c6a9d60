"""What routes declare for the OpenAPI document (``chalicelib/web/openapi.py``): the query parameters
they read ({name: JSON schema}), the JSON shapes they answer (JSON schemas after the spec's and the
serializers' shapes) and the answers that are not JSON (``Media``: redirects, text, armored keys).

Answer schemas list the fields every answer has as ``required`` and leave objects open (the spec's
optional and publisher-only fields, and Shelf's own additions, may appear).
"""

from __future__ import annotations

from typing import Any

# --- JSON schema helpers --------------------------------------------------------------------------

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
NULLABLE_INT: dict[str, Any] = {"type": ["integer", "null"]}
#: An ISO-8601 time as Shelf writes it (``2026-11-24T19:38:44.123Z``), null when unknown.
TIME: dict[str, Any] = {"type": ["string", "null"], "description": "ISO-8601, e.g. 2026-11-24T19:38:44.123Z"}
OBJECT: dict[str, Any] = {"type": "object"}
STRINGS: dict[str, Any] = {"type": "array", "items": STR}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An open object: ``required`` fields always present, ``optional`` ones sometimes."""
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required)}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


class Media:
    """An answer that is not only JSON: ``media_type`` (None: no body) with its ``schema`` (text by
    default), other media types it may come in (``also``, text) and the headers it carries.
    (Plain classes here: a dataclass costs a millisecond of cold start each.)"""

    __slots__ = ("description", "media_type", "headers", "schema", "also")

    def __init__(
        self,
        description: str,
        media_type: str | None = None,
        headers: tuple[str, ...] = (),
        schema: Any = None,
        also: tuple[str, ...] = (),
    ):
        self.description, self.media_type, self.headers = description, media_type, headers
        self.schema, self.also = schema, also


#: Headers of paged listings (the spec's pagination).
RANGE_HEADERS = ("X-RangeLimit-Total", "X-RangeLimit-StartPos", "X-RangeLimit-EndPos")


class WithHeaders:
    """An answer (a schema, a ``Media``) and the headers it carries."""

    __slots__ = ("schema", "headers")

    def __init__(self, schema: Any, headers: tuple[str, ...]):
        self.schema, self.headers = schema, headers


def paged(items: dict[str, Any]) -> WithHeaders:
    """A page of a listing: a JSON list and the spec's ``X-RangeLimit-*`` headers."""
    return WithHeaders(array(items), RANGE_HEADERS)


#: Downloads and log files: 302 to the content (a signed URL, valid seconds).
REDIRECT = Media("Redirect to the content (a signed URL)", None, ("Location",))
ARMORED_KEY = Media("An ASCII-armored OpenPGP public key", "application/pgp-keys")
TEXT = Media("Plain text", "text/plain")
NDJSON = Media("Newline-delimited JSON events, an empty line as keep-alive", "application/x-ndjson")

#: An upload's body: the file's bytes.
BINARY = Media("The file's bytes", "application/octet-stream")

# --- answers --------------------------------------------------------------------------------------

MESSAGE = obj({"message": STR})
EMPTY = {"type": "object"}
FILES_COUNT = obj({"files": INT})
#: Attributes as read: name, type, values.
ATTRIBUTES = array(obj({"name": STR, "type": STR, "values": array({})}))
#: A body of attributes to set: a list of {name, values, type?}.
ATTRIBUTES_BODY = array(
    obj({"name": STR, "values": array({})}, {"type": {"enum": ["string", "date", "number", "boolean"]}})
)
#: An attribute search: a non-empty list of {name: [values or a range]} (the spec's Attribute Search;
#: ``attributes.services.parse_clauses`` refuses an empty one, empty clauses and empty values).
SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}
ATTRIBUTE_QUERY = {
    **array({"type": "object", "minProperties": 1, "additionalProperties": {**array(SCALAR), "minItems": 1}}),
    "minItems": 1,
}
#: POST on a file's greedy path: attributes to set (``<path>/attributes``), or a search
#: (``search/attributes``).
ATTRIBUTES_OR_QUERY = {"anyOf": [ATTRIBUTES_BODY, ATTRIBUTE_QUERY]}

PACKAGE = obj(
    {
        "name": STR,
        "repo": STR,
        "owner": STR,
        "desc": STR,
        "labels": STRINGS,
        "licenses": STRINGS,
        "custom_licenses": STRINGS,
        "followers_count": INT,
        "created": TIME,
        "website_url": STR,
        "issue_tracker_url": STR,
        "linked_to_repos": STRINGS,
        "versions": STRINGS,
        "latest_version": NULLABLE_STR,
        "system_ids": STRINGS,
        "updated": TIME,
        "vcs_url": STR,
    },
    {"attribute_names": STRINGS, "attributes": OBJECT},
)
PACKAGE_ITEM = obj({"name": STR, "linked": BOOL})
VERSION = obj(
    {
        "name": STR,
        "desc": STR,
        "package": STR,
        "repo": STR,
        "owner": STR,
        "labels": STRINGS,
        "published": BOOL,
        "created": TIME,
        "updated": TIME,
        "released": {"type": ["string", "null"]},
        "ordinal": INT,
    },
    {"attribute_names": STRINGS, "attributes": OBJECT},
)
REPOSITORY = obj(
    {
        "name": STR,
        "owner": STR,
        "type": STR,
        "private": BOOL,
        "premium": BOOL,
        "desc": STR,
        "labels": STRINGS,
        "created": TIME,
        "package_count": INT,
    },
    {"business_unit": STR, "version_update_max_days": INT},
)
REPOSITORY_ITEM = obj({"name": STR, "owner": STR})
FILE = obj(
    {
        "name": STR,
        "path": STR,
        "package": STR,
        "version": STR,
        "repo": STR,
        "owner": STR,
        "created": TIME,
        "size": INT,
        "sha1": NULLABLE_STR,
        "sha256": NULLABLE_STR,
    }
)
#: POST on a file's greedy path: its attributes (set), or the files found (search).
FILE_ATTRIBUTES_OR_FILES = {"anyOf": [ATTRIBUTES, array(FILE)]}
UPLOAD = obj(
    {
        "id": STR,
        "path": STR,
        "package": STR,
        "version": STR,
        "size": INT,
        "created": TIME,
        "state": {"enum": ["pending", "processing", "done", "failed"]},
        "reason": NULLABLE_STR,
    }
)
USER = obj(
    {
        "name": STR,
        "full_name": STR,
        "repos": STRINGS,
        "organizations": STRINGS,
        "followers_count": INT,
        "registered": TIME,
    },
    {"gravatar_id": NULLABLE_STR, "quota_used_bytes": INT},
)
ORG = obj(
    {
        "name": STR,
        "repos": STRINGS,
        "followers_count": INT,
        "registered": TIME,
        "owner": NULLABLE_STR,
        "full_name": STR,
        "members": array(obj({"name": STR}, {"type": STR})),
    },
    {"plan": NULLABLE_STR, "teams": STRINGS, "quota_used_bytes": INT},
)
SECURITY_USERS = array(obj({"name": STR, "uri": STR, "realm": STR}))
SECURITY_USER = obj({"name": STR})
PUT_USER = {200: obj({"name": STR}), 201: obj({"name": STR, "api_key": STR})}
API_KEY = obj({"apiKey": STR})
FOLLOWER = obj({"name": STR})
MEMBER = OBJECT

#: Uploads: 201 ``{"message": "success"}``, or 307 to a presigned S3 PUT for a body too large for Lambda.
UPLOADED = {201: MESSAGE, 307: WithHeaders(MESSAGE, ("Location",))}
#: Downloads: 302 to the content; checksum files (``<file>.sha1``) as text.
DOWNLOAD = {302: REDIRECT, 200: TEXT}
LOG = obj({"name": STR, "size": INT, "update": TIME})
LICENSE = obj({"name": STR, "description": NULLABLE_STR, "url": NULLABLE_STR})
OSS_LICENSES = array(obj({"name": STR}))
README = obj({"package": STR, "repo": STR, "owner": STR})
RELEASE_NOTES = README

ENTITLEMENT = obj({"id": STR, "path": NULLABLE_STR, "access": STR, "access_keys": STRINGS, "tags": STRINGS})
ENTITLEMENT_IDS = array(obj({"id": STR}))
ACCESS_KEY = obj(
    {
        "id": STR,
        "username": STR,
        "expiry": NULLABLE_INT,
        "existence_check": {"type": ["object", "null"]},
        "white_cidrs": STRINGS,
        "black_cidrs": STRINGS,
        "api_only": BOOL,
    }
)
ACCESS_KEY_CREATED = obj({"username": STR, "password": STR})
ACCESS_KEYS = obj({"access_keys": STRINGS})

GPG_KEY = obj({"fingerprint": STR, "public_key": STR, "passphrase_protected": BOOL})
SIGNED_URL = obj({"url": STR})
#: ``{"url": ...}``, or with ``encrypt=true`` that answer encrypted with the secret, as text.
SIGNED_URL_ANSWER = Media(
    "The signed URL; with encrypt=true, encrypted (text) and the secret in X-Bintray-Secret",
    "application/json",
    ("X-Bintray-Secret",),
    schema=SIGNED_URL,
    also=("text/plain",),
)

PRODUCT = obj(
    {
        "name": STR,
        "display_name": STR,
        "created": TIME,
        "desc": STR,
        "website_url": STR,
        "vcs_url": STR,
        "packages": STRINGS,
        "versions": STRINGS,
    }
)
PRODUCTS = array(obj({"name": STR}))
EULA_SUMMARY = obj({"name": STR, "created": TIME, "versions": STRINGS})
EULA = obj(
    {"name": STR, "created": TIME, "versions": STRINGS, "syntax": STR, "content": STR, "default": BOOL}
)

TEAM = obj(
    {
        "name": STR,
        "owner": STR,
        "members": STRINGS,
        "permitted_repos": OBJECT,
        "allow_repo_creation": BOOL,
        "business_unit": NULLABLE_STR,
    }
)
TEAMS = obj({"teams": STRINGS})
TEAM_PERMISSION = obj({"team": STR, "permission": STR})

THRESHOLD = obj(
    {
        "monthly_storage_bytes": INT,
        "monthly_download_bytes": INT,
        "daily_download_bytes": INT,
        "alert_to_emails": STRINGS,
        "alert_to_admins": BOOL,
    }
)
WEBHOOK = obj(
    {
        "package": STR,
        "url": STR,
        "failure_count": INT,
        "repo": STR,
        "method": STR,
        "active": BOOL,
        "created": TIME,
    }
)
WEBHOOK_CREATED = {201: obj({**WEBHOOK["properties"], "secret": STR}, None)}
#: npm registry reads: JSON documents (packuments, abbreviated or not, dist-tags, whoami), tarballs
#: and other files by redirect.
NPM_READ = {200: OBJECT, 302: REDIRECT}
NPM_LOGIN = obj({"name": STR, "password": STR})
NPM_TOKEN = obj({"ok": BOOL, "token": STR})
GEO_RESTRICTIONS = obj({"white_list": STRINGS, "black_list": STRINGS})
IP_RESTRICTIONS = obj({"white_cidrs": STRINGS, "black_cidrs": STRINGS})

# --- query parameters -----------------------------------------------------------------------------
# Each is {parameter: JSON schema}, all optional, or ``obj(required, optional)`` where the route refuses
# a request without some (plain dicts: nothing to build at import time, see docs/performance.md).

#: ``start_pos``: the first item of the page (the spec's pagination).
Paging = {"start_pos": {"type": "integer", "minimum": 0}}
StartName = {**Paging, "start_name": STR}
FLAG = {"type": "string", "description": "1, true or yes"}
AttributeValues = {"attribute_values": FLAG}
AttributeNames = {"names": {"type": "string", "description": "Comma-separated attribute names"}}
IncludeUnpublished = {"include_unpublished": FLAG}
Path = {"path": STR}


def one_of(names: str) -> dict[str, Any]:
    """A query parameter of a group of which a request names at least one (OpenAPI cannot say it of
    parameters: each of them says it)."""
    return {"type": "string", "description": f"At least one of {names} is required (a 400 otherwise)"}


PACKAGE_TERM = one_of("name, desc, subject and repo")
PackageSearch = {
    **Paging,
    "name": PACKAGE_TERM,
    "desc": PACKAGE_TERM,
    "subject": PACKAGE_TERM,
    "repo": PACKAGE_TERM,
}
MAVEN_TERM = one_of("g, a and q")
MavenSearch = {**Paging, "g": MAVEN_TERM, "a": MAVEN_TERM, "q": MAVEN_TERM, "subject": STR, "repo": STR}
REPO_TERM = one_of("name and desc")
RepoSearch = {**Paging, "name": REPO_TERM, "desc": REPO_TERM}
UserSearch = obj({"name": STR}, Paging)
FILE_TERM = one_of("name and sha1")
FileSearch = {
    **Paging,
    "name": FILE_TERM,
    "sha1": FILE_TERM,
    "subject": STR,
    "repo": STR,
    "created_after": STR,
}
#: Upload options in the query (also matrix parameters or X-Bintray-* headers).
UploadOptions = {"publish": FLAG, "override": FLAG, "bt_package": STR, "bt_version": STR}
#: Dynamic downloads (``$latest``) name the package; signed URLs carry their claims.
Download = {"bt_package": STR, "expiry": STR, "id": STR, "signature": STR}
Encrypt = {"encrypt": FLAG}
EntitlementSearch = obj(
    {"scope": {"type": "string", "description": "subject[/repo[/package[/version]]]"}},
    {"access_key": STR, "tag": STR, "product": STR, "deep": FLAG},
)
#: EULA acceptance: the caller's own name (a user or access key).
Acceptance = {"username": STR}
#: EULA tracking: by user, EULA and time range (ISO-8601), paged.
SignedEulas = {**Paging, "username": STR, "eula_name": STR, "from": STR, "to": STR}
