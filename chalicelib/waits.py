"""How a request that waits for something (a long poll) pauses.

Deployed, each Lambda container serves one request at a time, so a pause is a plain sleep. The local
gateway (``infra/local/gateway.py``) runs the app for one request at a time; it replaces ``pause`` with
one that lets other requests run meanwhile, as other containers would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

pause: Callable[[float], None] = time.sleep
