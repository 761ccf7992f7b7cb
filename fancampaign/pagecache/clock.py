"""The cache's wall clock (POSIX seconds): one place to read it, and to move it in tests."""

from __future__ import annotations

import time


def now() -> float:
    return time.time()
