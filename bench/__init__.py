"""``make bench``: AWS operations per request and cold import time (see docs/performance.md)."""
