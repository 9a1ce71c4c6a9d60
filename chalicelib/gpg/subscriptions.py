"""What the gpg domain reacts to: files published in a repository that signs files get their
``.asc`` signatures in the same request (in-request: the signature is there when the caller looks)."""

from chalicelib.events import Subscription, VersionPublished

SUBSCRIPTIONS = [Subscription(VersionPublished, "chalicelib.gpg.subscribers:version_published")]
