"""Redis failing: what the page cache says about it, and what it does not forget.

While Redis is down every request finds it so. The first failure is logged with its
traceback, then at most one line per `QUIET_FOR` seconds saying how many failures followed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("fancampaign.pagecache")

QUIET_FOR = 60.0
_failures: dict[str, float] = {"since": 0, "reported_at": float("-inf")}


def report(what: str, *args: Any) -> None:
    """Log a failure of Redis (call it in the `except` block: the traceback goes with it)."""
    now = time.monotonic()
    if now - _failures["reported_at"] < QUIET_FOR:
        _failures["since"] += 1
        log.debug("page cache: " + what, *args, exc_info=True)
        return
    since = int(_failures["since"])
    _failures["since"], _failures["reported_at"] = 0, now
    more = f" ({since} more failures since the last report)" if since else ""
    log.warning("page cache: " + what + more, *args, exc_info=True)
