"""Secrets at rest under KMS (envelope encryption): a fresh 256-bit data key per secret from
``GenerateDataKey``, the secret sealed with AES-256-GCM, the data key kept encrypted by KMS.

boto3 is imported on first use. The KMS key is ``alias/<table prefix>gpg`` (created by
``infra/local/aws.py`` locally and by the CloudFormation template when deployed).

Example::

    sealed, data_key = seal(b"secret")
    assert unseal(sealed, data_key) == b"secret"
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from typing import Any

from chalicelib.config import settings


def key_alias() -> str:
    return f"alias/{settings().table_prefix}gpg"


@lru_cache(maxsize=1)
def kms() -> Any:
    import boto3

    conf = settings()
    return boto3.client("kms", region_name=conf.region, endpoint_url=conf.s3_endpoint)


def seal(secret: bytes) -> tuple[str, str]:
    """(sealed secret, encrypted data key), both base64."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    answer = kms().generate_data_key(KeyId=key_alias(), KeySpec="AES_256")
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(answer["Plaintext"]).encrypt(nonce, secret, None)
    return base64.b64encode(sealed).decode(), base64.b64encode(answer["CiphertextBlob"]).decode()


def unseal(sealed: str, data_key: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plain_key = kms().decrypt(CiphertextBlob=base64.b64decode(data_key))["Plaintext"]
    raw = base64.b64decode(sealed)
    return AESGCM(plain_key).decrypt(raw[:12], raw[12:], None)


def create_key() -> None:
    """Create the KMS key and its alias when missing (local AWS and tests)."""
    client = kms()
    aliases = {a["AliasName"] for a in client.list_aliases().get("Aliases", [])}
    if key_alias() not in aliases:
        key_id = client.create_key(Description="Shelf: GPG secret keys at rest")["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName=key_alias(), TargetKeyId=key_id)
