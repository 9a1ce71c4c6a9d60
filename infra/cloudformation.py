"""CloudFormation resources for the deployed stage, generated from the PynamoDB models.

``python -m infra.cloudformation`` rewrites ``infra/resources.json``; deploy with
``chalice package --stage prod --merge-template infra/resources.json out/`` and CloudFormation.
A test fails when the file is out of date with the models.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

RESOURCES = Path(__file__).with_name("resources.json")
PROD_PREFIX = "shelf-prod-"


def _key_schema(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(entries, key=lambda e: e["KeyType"] != "HASH")


def table_resource(model: Any) -> dict[str, Any]:
    """The ``AWS::DynamoDB::Table`` resource of one model."""
    schema = model._get_schema()
    properties: dict[str, Any] = {
        "TableName": model.Meta.table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(schema["attribute_definitions"], key=lambda a: a["AttributeName"]),
        "KeySchema": _key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    for kind, name in (
        ("global_secondary_indexes", "GlobalSecondaryIndexes"),
        ("local_secondary_indexes", "LocalSecondaryIndexes"),
    ):
        indexes = [
            {
                "IndexName": index["index_name"],
                "KeySchema": _key_schema(index["key_schema"]),
                "Projection": index["projection"],
            }
            for index in schema.get(kind, [])
        ]
        if indexes:
            properties[name] = sorted(indexes, key=lambda i: i["IndexName"])
    ttl = model._ttl_attribute()
    if ttl is not None:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl.attr_name, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "Properties": properties}


def template() -> dict[str, Any]:
    """The whole merge template (tables named with the prod prefix)."""
    os.environ["SHELF_TABLE_PREFIX"] = PROD_PREFIX
    from chalicelib.config import settings

    settings.cache_clear()
    from chalicelib.db import all_models

    resources = {}
    for model in all_models():
        logical = "".join(
            part.capitalize() for part in re.split(r"[-_]", model.Meta.table_name[len(PROD_PREFIX) :])
        )
        resources[f"{logical}Table"] = table_resource(model)
    resources.update(kms_resources())
    return {"Resources": resources}


def kms_resources() -> dict[str, Any]:
    """The KMS key that seals GPG secret keys at rest (chalicelib/gpg/keystore.py), and its alias."""
    return {
        "GpgKmsKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": "Shelf: GPG secret keys at rest",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                },
            },
        },
        "GpgKmsKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": f"alias/{PROD_PREFIX}gpg", "TargetKeyId": {"Ref": "GpgKmsKey"}},
        },
    }


def main() -> None:
    RESOURCES.write_text(json.dumps(template(), indent=2) + "\n")
    print(f"wrote {RESOURCES}")


if __name__ == "__main__":
    main()
