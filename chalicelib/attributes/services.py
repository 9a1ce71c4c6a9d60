"""Attribute services: get, set (replace all), update (merge; null removes), delete, search, purge.

Every write keeps three things in step: the ``Attribute`` rows (values as sent), the
``AttributeIndex`` rows (one per distinct value, for search) and ``attribute_names`` on the package or
version item. Search reads only the index key ranges of its clauses, never the packages of the
repository: cost = one Query per clause value (per encoding), then one BatchGetItem per 100 results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import db
from chalicelib.attributes import ranges
from chalicelib.attributes.models import Attribute, AttributeIndex
from chalicelib.content.models import File
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.packages.models import Package, Version
from chalicelib.records import dataclass

NAME = re.compile(r"^[^,#\x00-\x1f]{1,128}$")
MAX_ATTRIBUTES = 100
MAX_VALUES = 100
#: Above every character of an encoded value: closes the key range of a bound.
TOP = "\U0010ffff"


@dataclass
class Target:
    """The package or version whose attributes are read or written."""

    package_id: str
    version: str  # "" for the package itself
    scope: str  # "p#<repo_id>" or "v#<package_id>": where the item is searched
    item: str  # the package or version name
    model: Package | Version | None  # None for a file (no attribute_names to keep in step)

    @property
    def prefix(self) -> str:
        return f"{self.version}#"


def package_target(package: Package) -> Target:
    return Target(package.id, "", f"p#{package.repo_id}", package.name, package)


def version_target(package: Package, version: Version) -> Target:
    return Target(package.id, version.name, f"v#{package.id}", version.name, version)


def file_key(repo_id: str, path: str) -> str:
    """The ``Attribute`` hash key of the attributes of the file at ``path`` of a repository."""
    return f"file#{repo_id}#{path}"


def file_target(record: File) -> Target:
    """A file: searched in ``f#<repo_id>``, the index item being its path."""
    return Target(file_key(record.repo_id, record.path), "", f"f#{record.repo_id}", record.path, None)


def visible(name: str, can_publish: bool) -> bool:
    """Names starting with ``_`` are for publishers only."""
    return can_publish or not name.startswith("_")


# --- reading ----------------------------------------------------------------------------------


def _rows(package_id: str, version: str, consistent: bool = False) -> list[Attribute]:
    return list(
        Attribute.query(package_id, Attribute.ref.startswith(f"{version}#"), consistent_read=consistent)
    )


def _shape(row: Attribute) -> dict[str, Any]:
    return {"name": row.name, "values": json.loads(row.values_json), "type": row.type}


def get_attributes(target: Target, names: list[str] | None, can_publish: bool) -> list[dict[str, Any]]:
    """The spec's Get Attributes list, optionally only ``names``; hidden names only for publishers."""
    wanted = set(names) if names else None
    return [
        _shape(row)
        for row in sorted(_rows(target.package_id, target.version), key=lambda r: r.name)
        if visible(row.name, can_publish) and (wanted is None or row.name in wanted)
    ]


def attribute_map(package_id: str, version: str, can_publish: bool) -> dict[str, list[Any]]:
    """``{name: values}`` for Get Package / Get Version with ``attribute_values=1``."""
    return {
        row.name: json.loads(row.values_json)
        for row in sorted(_rows(package_id, version), key=lambda r: r.name)
        if visible(row.name, can_publish)
    }


# --- writing ----------------------------------------------------------------------------------


def parse_attributes(data: object, allow_null: bool) -> list[tuple[str, str, list[Any] | None]]:
    """Validate a Set/Update body: ``[(name, type, values or None to remove)]``; 400 on any problem."""
    if not isinstance(data, list):
        raise BadRequest("The request body must be a JSON array of attributes")
    if len(data) > MAX_ATTRIBUTES:
        raise BadRequest(f"At most {MAX_ATTRIBUTES} attributes per request")
    out: list[tuple[str, str, list[Any] | None]] = []
    seen: set[str] = set()
    for entry in data:
        if not isinstance(entry, dict):
            raise BadRequest("Each attribute must be a JSON object with 'name' and 'values'")
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise BadRequest(
                f"Invalid value for 'name': {name!r} (1 to 128 characters, no ',', '#' or control characters)"
            )
        if name in seen:
            raise BadRequest(f"Attribute '{name}' is given twice")
        seen.add(name)
        if "values" not in entry:
            raise BadRequest(f"Missing required field 'values' of attribute '{name}'")
        values = entry["values"]
        type_ = entry.get("type")
        if type_ is not None and (not isinstance(type_, str) or type_.lower() not in ranges.TYPES):
            raise BadRequest(f"Invalid value for 'type': {type_!r} (one of {', '.join(ranges.TYPES)})")
        if values is None:
            if not allow_null:
                raise BadRequest(f"Invalid value for 'values' of attribute '{name}': null (PATCH removes)")
            out.append((name, "", None))
            continue
        if not isinstance(values, list):
            values = [values]
        if len(values) > MAX_VALUES:
            raise BadRequest(f"At most {MAX_VALUES} values per attribute")
        if any(value is None or isinstance(value, list | dict) for value in values):
            raise BadRequest(f"Invalid value for 'values' of attribute '{name}': scalars only")
        inferred = ranges.infer_type(values)
        type_ = type_.lower() if type_ else inferred
        ranges.check_values(name, type_, values)
        out.append((name, type_, values))
    return out


#: DynamoDB's range-key limit: an index row's key is the encoded value and the item's name (a file's
#: path may have 1,024 bytes alone).
MAX_INDEX_KEY_BYTES = 1024


def _index_rows(scope: str, name: str, type_: str, values: list[Any], item: str) -> list[AttributeIndex]:
    """The search-index rows of one attribute; 400 (before anything is written) when a value and the
    item's name do not fit one key together."""
    encoded = sorted({ranges.encode(type_, value) for value in values})
    if any(len(f"{e}#{item}".encode("utf-8", "surrogatepass")) > MAX_INDEX_KEY_BYTES for e in encoded):
        raise BadRequest(
            f"Invalid value of attribute '{name}': too long for '{item}' (a value and the name it "
            f"describes may have {MAX_INDEX_KEY_BYTES} bytes together)"
        )
    return [
        AttributeIndex(f"{scope}#{name}", f"{e}#{item}", encoded=e, item=item, value_count=len(encoded))
        for e in encoded
    ]


def _index_of(row: Attribute, item: str) -> list[AttributeIndex]:
    return _index_rows(row.scope_id, row.name, row.type, json.loads(row.values_json), item)


#: Conditional writes of ``attribute_names`` tried while concurrent writers keep changing it.
NAME_SYNC_ATTEMPTS = 10


def _sync_names(target: Target) -> None:
    """Set ``attribute_names`` to the names of the stored rows, on the condition that it still holds
    what this request read before reading the rows (an optimistic lock). A concurrent write of the
    target's attributes in between fails the condition and the rows are read again, so the last
    write names every row: read-merge-write from a stale read would drop another writer's names."""
    model = target.model
    if model is None:
        return
    kind = type(model)
    exists = kind.id == target.package_id if kind is Package else Version.name.exists()
    for _ in range(NAME_SYNC_ATTEMPTS):
        seen = list(model.attribute_names or [])
        names = sorted({row.name for row in _rows(target.package_id, target.version, consistent=True)})
        if seen:
            unchanged = kind.attribute_names == seen
        else:
            unchanged = kind.attribute_names.does_not_exist() | (kind.attribute_names == [])
        try:
            model.update(actions=[kind.attribute_names.set(names)], condition=exists & unchanged)
            return
        except UpdateError as error:
            if not db.condition_failed(error):
                raise
        try:
            model.refresh(consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"'{target.item}' was not found") from None
        if kind is Package and model.id != target.package_id:
            raise NotFound(f"'{target.item}' was not found")
    raise Conflict(f"The attributes of '{target.item}' are changing concurrently; try again")


def _write(target: Target, wanted: dict[str, tuple[str, list[Any]]], existing: list[Attribute]) -> None:
    """Make the stored attributes of ``target`` exactly ``wanted`` ({name: (type, values)})."""
    if len(wanted) > MAX_ATTRIBUTES:
        raise BadRequest(f"At most {MAX_ATTRIBUTES} attributes per package or version")
    old = {row.name: row for row in existing}
    stale: list[Any] = []
    fresh: list[Any] = []
    for name, row in old.items():
        now_ = wanted.get(name)
        if now_ is None or now_ != (row.type, json.loads(row.values_json)):
            stale += _index_of(row, target.item)
            if now_ is None:
                stale.append(row)
    for name, (type_, values) in wanted.items():
        row = old.get(name)
        if row is not None and (row.type, json.loads(row.values_json)) == (type_, values):
            continue
        fresh.append(
            Attribute(
                target.package_id,
                f"{target.prefix}{name}",
                name=name,
                version=target.version or None,
                scope_id=target.scope,
                type=type_,
                values_json=json.dumps(values),
            )
        )
        fresh += _index_rows(target.scope, name, type_, values, target.item)
    fresh_keys = {_key(m) for m in fresh}
    db.batch_delete(m for m in stale if _key(m) not in fresh_keys)
    _batch_save(fresh)
    _sync_names(target)


def _key(item: Attribute | AttributeIndex) -> tuple[str, str, str]:
    if isinstance(item, Attribute):
        return ("a", item.package_id, item.ref)
    return ("i", item.scope, item.key)


def _batch_save(items: Iterable[Any]) -> None:
    by_model: dict[type, list[Any]] = {}
    for item in items:
        by_model.setdefault(type(item), []).append(item)
    for model, group in by_model.items():
        with model.batch_write() as batch:
            for item in group:
                batch.save(item)


def set_attributes(target: Target, data: object) -> None:
    """Replace every attribute of ``target``."""
    parsed = parse_attributes(data, allow_null=False)
    existing = _rows(target.package_id, target.version)
    _write(target, {name: (type_, values) for name, type_, values in parsed if values is not None}, existing)


def update_attributes(target: Target, data: object) -> None:
    """Merge attributes into ``target``; a null ``values`` removes that attribute."""
    parsed = parse_attributes(data, allow_null=True)
    existing = _rows(target.package_id, target.version)
    wanted = {row.name: (row.type, json.loads(row.values_json)) for row in existing}
    for name, type_, values in parsed:
        if values is None:
            wanted.pop(name, None)
        else:
            wanted[name] = (type_, values)
    _write(target, wanted, existing)


def delete_attributes(target: Target, names: list[str] | None) -> None:
    """Remove ``names`` (all attributes when None)."""
    existing = _rows(target.package_id, target.version)
    gone = set(names) if names else None
    wanted = {
        row.name: (row.type, json.loads(row.values_json))
        for row in existing
        if gone is not None and row.name not in gone
    }
    _write(target, wanted, existing)


def split_names(value: str | None) -> list[str] | None:
    """The ``names=a,b`` query parameter."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    return names or None


# --- cascades ---------------------------------------------------------------------------------


def _purge(rows: Iterable[Attribute], item_of: Any) -> None:
    doomed: list[Any] = []
    for row in rows:
        doomed += _index_of(row, item_of(row))
        doomed.append(row)
    db.batch_delete(doomed)


def purge_package_attributes(package_id: str, package_name: str) -> None:
    """Remove the attributes of a deleted package and of all its versions (idempotent)."""
    _purge(Attribute.query(package_id), lambda row: row.version or package_name)


def purge_version_attributes(package_id: str, version: str) -> None:
    """Remove the attributes of a deleted version (idempotent)."""
    _purge(_rows(package_id, version), lambda row: version)


def purge_file_attributes(repo_id: str, path: str) -> None:
    """Remove the attributes of a deleted file (idempotent)."""
    _purge(Attribute.query(file_key(repo_id, path)), lambda row: path)


# --- search -----------------------------------------------------------------------------------


def parse_clauses(data: object) -> list[tuple[str, Any]]:
    """``[{"name": value}, ...]`` as (name, value) pairs; 400 for anything else."""
    if not isinstance(data, list) or not data:
        raise BadRequest('The request body must be a non-empty JSON array of {"name": value} clauses')
    clauses = []
    for entry in data:
        if not isinstance(entry, dict) or not entry:
            raise BadRequest('Each search clause must be a JSON object {"name": value}')
        for name, value in entry.items():
            if value is None or isinstance(value, dict) or value == []:
                raise BadRequest(f"Invalid search value for '{name}': use a value, an array or a range")
            if isinstance(value, list):
                for element in value:
                    _check_scalar(name, element)
            else:
                _check_scalar(name, value)
            clauses.append((name, value))
    if len(clauses) > 20:
        raise BadRequest("At most 20 search clauses")
    return clauses


def _check_scalar(name: str, value: Any) -> None:
    if value is None or isinstance(value, list | dict):
        raise BadRequest(f"Invalid search value for '{name}': arrays hold scalars or ranges")
    if ranges.looks_like_range(value):
        ranges.parse_range(value)
    else:
        ranges.query_encodings(value)


def _matches(scope: str, value: Any) -> dict[str, int]:
    """Items whose attribute (index hash ``scope``) equals ``value`` or lies in its range: {item: count}."""
    found: dict[str, int] = {}
    if ranges.looks_like_range(value):
        bounds = ranges.parse_range(value)
        low = bounds.low or bounds.prefix
        high = (bounds.high or bounds.prefix + TOP) + TOP
        rows = AttributeIndex.query(scope, AttributeIndex.key.between(low, high))
        for row in rows:
            if bounds.contains(row.encoded):
                found[row.item] = int(row.value_count)
        return found
    for encoded in ranges.query_encodings(value):
        for row in AttributeIndex.query(scope, AttributeIndex.key.startswith(f"{encoded}#")):
            if row.encoded == encoded:
                found[row.item] = int(row.value_count)
    return found


def _clause(scope: str, value: Any) -> set[str]:
    if not isinstance(value, list):
        return set(_matches(scope, value))
    per_element = [_matches(scope, json.loads(element)) for element in dict.fromkeys(map(json.dumps, value))]
    items: set[str] = set()
    counts: dict[str, int] = {}
    for found in per_element:
        counts.update(found)
    for item, count in counts.items():
        hits = sum(item in found for found in per_element)
        # A scalar attribute matches any element; an array attribute must contain every element.
        if (count == 1 and hits >= 1) or (count > 1 and hits == len(per_element)):
            items.add(item)
    return items


def search(scope: str, data: object, can_publish: bool) -> list[str]:
    """Names of the items of ``scope`` matching every clause (AND), sorted."""
    clauses = parse_clauses(data)
    result: set[str] | None = None
    for name, value in clauses:
        if not visible(name, can_publish):
            return []
        matched = _clause(f"{scope}#{name}", value)
        result = matched if result is None else result & matched
        if not result:
            return []
    return sorted(result or ())


def search_packages(repo_id: str, data: object, can_publish: bool) -> list[Package]:
    names = search(f"p#{repo_id}", data, can_publish)
    found = list(Package.batch_get([(repo_id, name) for name in names])) if names else []
    return sorted(found, key=lambda p: p.name)


def search_versions(package: Package, data: object, can_publish: bool) -> list[Version]:
    names = search(f"v#{package.id}", data, can_publish)
    found = list(Version.batch_get([(package.id, name) for name in names])) if names else []
    return sorted(found, key=lambda v: v.name)


def search_files(repo_id: str, data: object, can_publish: bool) -> list[File]:
    """Files of the repository matching every clause; unpublished ones for publishers only."""
    paths = search(f"f#{repo_id}", data, can_publish)
    found = list(File.batch_get([(repo_id, path) for path in paths])) if paths else []
    return sorted((f for f in found if f.published or can_publish), key=lambda f: f.path)
