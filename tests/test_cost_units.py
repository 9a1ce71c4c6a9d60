"""``bench/cost.py``'s request units (``units_of``, ``capacity_units``): index writes and item sizes.

Most tests build the operation's kwargs directly (DynamoDB's wire format, as PynamoDB dispatches it); the
last two run real PynamoDB writes against the local AWS inside ``capacity_units``."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.cost import _key_id, _updated_attributes, capacity_units, units_of
from chalicelib.content.models import File
from chalicelib.docs_meta.models import DocsMeta
from chalicelib.packages.models import Package
from tests.conftest import unique

FILES = File.Meta.table_name  # 5 GSIs: version, package, public_name (search_shard), sha1, sha256 (keys only)
DOCS = DocsMeta.Meta.table_name  # no index
PACKAGES = Package.Meta.table_name  # public_index (search_shard)


def _file(**extra: str) -> dict:
    """A ``files`` item of about 400 bytes, in every index but ``public_name_index`` (no search_shard)."""
    attributes = {
        "repo_id": "r1",
        "path": "tool/1.0/tool-1.0.bin",
        "name": "tool-1.0.bin",
        "name_lower": "tool-1.0.bin",
        "owner": "alice",
        "repo": "generic",
        "package": "tool",
        "package_id": "p1",
        "version": "1.0",
        "version_key": "p1#1.0",
        "sha1": "a" * 40,
        "sha256": "b" * 64,
        **extra,
    }
    return {name: {"S": value} for name, value in attributes.items()} | {"size": {"N": "1024"}}


def _key(item: dict) -> dict:
    return {"repo_id": item["repo_id"], "path": item["path"]}


def test_a_put_into_a_table_with_indexes_writes_each_index_the_item_is_in():
    item = _file()
    assert units_of("PutItem", {"TableName": FILES, "Item": item}, {}).write == 1 + 4
    public = _file(search_shard="public")
    assert units_of("PutItem", {"TableName": FILES, "Item": public}, {}).write == 1 + 5
    # An item in no index (no such table in the models either): the item alone.
    assert units_of("PutItem", {"TableName": DOCS, "Item": {"package_id": {"S": "p"}}}, {}).write == 1


def test_a_put_replacing_an_item_bills_the_larger_and_an_index_key_change_twice():
    big = _file(content="x" * 3000)  # about 3.5 KB: 4 units in the table and in each all-attribute index
    small = _file(version_key="p1#2.0")
    stored = {_key_id(FILES, _key(small)): (big, small)}
    units = units_of("PutItem", {"TableName": FILES, "Item": small}, {}, stored)
    # table: max(4, 1); version_index: the key changed, delete 4 + put 1; package and sha1 indexes:
    # entry changed, 1 each (the new one); sha256 (keys only): unchanged, nothing.
    assert units.write == 4 + (4 + 1) + 1 + 1


def test_an_update_of_a_3_kb_item_is_billed_by_its_size():
    item = {
        "package_id": {"S": "p1"},
        "kind": {"S": "readme"},
        "source": {"S": "bintray"},
        "content": {"S": "x" * 2800},
        "updated": {"S": "2026-12-03T00:00:00.000000+0000"},
    }
    kwargs = {
        "TableName": DOCS,
        "Key": {"package_id": item["package_id"], "kind": item["kind"]},
        "UpdateExpression": "SET #u = :u",
        "ExpressionAttributeNames": {"#u": "updated"},
        "ExpressionAttributeValues": {":u": item["updated"]},
        "ReturnValues": "ALL_NEW",
    }
    # What PynamoDB asks for: the item after, returned.
    assert units_of("UpdateItem", kwargs, {"Attributes": item}).write == 3
    # The items read around the write: the larger of before (3 KB) and after (shrunk to a few bytes).
    after = {**item, "content": {"S": "x"}}
    stored = {_key_id(DOCS, kwargs["Key"]): (item, after)}
    assert units_of("UpdateItem", kwargs, {"Attributes": after}, stored).write == 3
    # Nothing known but the request: its key and what it sets.
    assert units_of("UpdateItem", {**kwargs, "ReturnValues": "NONE"}, {}).write == 1


def test_an_update_that_sets_an_index_key_writes_the_index():
    kwargs = {
        "TableName": PACKAGES,
        "Key": {"repo_id": {"S": "r1"}, "name": {"S": "tool"}},
        "UpdateExpression": "SET #s = :s, #c = if_not_exists(#c, :zero) + :one REMOVE #d",
        "ExpressionAttributeNames": {"#s": "search_shard", "#c": "followers_count", "#d": "desc"},
        "ExpressionAttributeValues": {":s": {"S": "public"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
    }
    assert _updated_attributes(kwargs) == {"search_shard": {"S": "public"}, "followers_count": {"N": "0"}}
    assert units_of("UpdateItem", kwargs, {}).write == 1 + 1
    unindexed = {**kwargs, "UpdateExpression": "SET #c = :one", "ExpressionAttributeNames": {"#c": "rating"}}
    assert units_of("UpdateItem", unindexed, {}).write == 1


def test_a_delete_of_an_item_in_indexes_removes_its_entries():
    item = _file()
    kwargs = {"TableName": FILES, "Key": _key(item)}
    assert units_of("DeleteItem", kwargs, {}, {_key_id(FILES, _key(item)): (item, None)}).write == 1 + 4
    assert units_of("DeleteItem", {**kwargs, "ReturnValues": "ALL_OLD"}, {"Attributes": item}).write == 1 + 4
    # Deleting what was not there (as read): the item's key alone, nothing in the indexes.
    assert units_of("DeleteItem", kwargs, {}, {_key_id(FILES, _key(item)): (None, None)}).write == 1


def test_a_transaction_counts_each_item_and_its_index_writes_twice():
    item = _file()
    kwargs = {
        "TransactItems": [
            {"Put": {"TableName": FILES, "Item": item}},
            {
                "Update": {
                    "TableName": PACKAGES,
                    "Key": {"repo_id": {"S": "r1"}, "name": {"S": "tool"}},
                    "UpdateExpression": "SET #s = :s",
                    "ExpressionAttributeNames": {"#s": "search_shard"},
                    "ExpressionAttributeValues": {":s": {"S": "public"}},
                }
            },
            {"Delete": {"TableName": DOCS, "Key": {"package_id": {"S": "p1"}, "kind": {"S": "readme"}}}},
            {"ConditionCheck": {"TableName": DOCS, "Key": {"package_id": {"S": "p2"}, "kind": {"S": "x"}}}},
        ]
    }
    units = units_of("TransactWriteItems", kwargs, {})
    assert units.write == 2 * (1 + 4) + 2 * (1 + 1) + 2 * 1
    assert units.read == 2


def test_a_batch_write_counts_each_put_and_delete_with_its_indexes():
    item = _file()
    kwargs = {
        "RequestItems": {
            FILES: [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": _key(_file(path="other"))}}]
        }
    }
    other = _file(path="other")
    stored = {_key_id(FILES, _key(item)): (None, item), _key_id(FILES, _key(other)): (other, None)}
    assert units_of("BatchWriteItem", kwargs, {}, stored).write == (1 + 4) + (1 + 4)


def _new_file() -> File:
    path = f"{unique('tool')}/1.0/f.bin"
    return File(
        unique("repo"),
        path,
        name="f.bin",
        name_lower="f.bin",
        owner="alice",
        repo="generic",
        package="tool",
        package_id="p1",
        version="1.0",
        version_key="p1#1.0",
        size=1024,
        sha1="a" * 40,
        sha256="b" * 64,
        created=datetime.now(UTC),
    )


def test_capacity_units_reads_the_items_around_each_write():
    docs = DocsMeta(unique("pkg"), "readme", source="bintray", content="x" * 2800, updated=datetime.now(UTC))
    docs.save()
    with capacity_units() as units:
        docs.update(actions=[DocsMeta.syntax.set("markdown")])
    assert units.write == 3  # the 3 KB item, though the update wrote a few bytes
    assert units.probe_seconds > 0

    file = _new_file()
    with capacity_units() as units:
        file.save()
    assert units.write == 1 + 4
    with capacity_units() as units:
        file.update(actions=[File.search_shard.set("public")])  # enters public_name_index
    assert units.write == 1 + 1 + 3  # the table, the new entry, the 3 all-attribute entries it changed
    with capacity_units() as units:
        file.update(actions=[File.uploader.set("bob")])  # keys unchanged: the 4 all-attribute entries
    assert units.write == 1 + 4
    with capacity_units() as units:
        file.delete()
    assert units.write == 1 + 5
    assert units.read == 0  # the uncounted reads are not billed


def test_capacity_units_in_a_transaction_and_a_batch():
    from chalicelib.db import transaction

    first, second = _new_file(), _new_file()
    with capacity_units() as units, transaction() as tx:
        tx.save(first)
        tx.save(second)
    assert units.write == 2 * 2 * (1 + 4)
    with capacity_units() as units, File.batch_write() as batch:
        batch.delete(first)
        batch.delete(second)
    assert units.write == 2 * (1 + 4)


def test_an_update_returning_the_old_item_compares_it_with_what_the_update_sets():
    item = _file()
    kwargs = {
        "TableName": FILES,
        "Key": _key(item),
        "UpdateExpression": "SET #v = :v",
        "ExpressionAttributeNames": {"#v": "version_key"},
        "ExpressionAttributeValues": {":v": {"S": "p1#2.0"}},
        "ReturnValues": "ALL_OLD",
    }
    # version_index: key changed (2); package and sha1 indexes: entry changed (1 each); sha256: unchanged.
    assert units_of("UpdateItem", kwargs, {"Attributes": item}).write == 1 + 2 + 1 + 1
