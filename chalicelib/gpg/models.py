"""DynamoDB model of GPG keys.

Access patterns (see docs/data-model.md):
- the key pair of a subject (public key downloads, signing): ``GpgKey`` hash ``subject``; Shelf's own
  key is the item of subject ``$system`` (no subject can be named so)
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta

SYSTEM = "$system"


class GpgKey(Model):
    """A key pair: the armored public key, and the secret key sealed under a KMS data key."""

    Meta = table_meta("gpg_keys")

    subject = UnicodeAttribute(hash_key=True)
    fingerprint = UnicodeAttribute()
    public_key = UnicodeAttribute()
    #: The secret key (as given: passphrase-protected when imported so), AES-256-GCM under ``data_key``.
    sealed_secret = UnicodeAttribute()
    #: The data key, encrypted by the KMS key (base64 of KMS's CiphertextBlob).
    data_key = UnicodeAttribute()
    #: Signing needs a passphrase (X-GPG-PASSPHRASE or the JSON body's ``passphrase``).
    protected = BooleanAttribute(default=False)
    created = UTCDateTimeAttribute()


MODELS = (GpgKey,)
