"""Keep a long run's memory at what its frames need (glibc only; elsewhere a no-op)."""
from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3   # glibc mallopt parameter


def release_large_buffers(threshold_bytes: int = 2 << 20) -> bool:
    """Serve allocations above ``threshold_bytes`` from their own mappings, returned to the
    system when freed.  glibc otherwise raises that threshold after the first large buffer
    is freed, and frame-sized buffers (a 4K frame is 25 MB) freed on several threads then
    stay in the heap: a 4K clip grew 450 -> 650 MB that way.  True if the setting took."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold_bytes)))
    except (OSError, AttributeError):
        return False
