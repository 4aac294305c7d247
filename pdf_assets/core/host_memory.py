"""Give freed heap memory back to the operating system between stages.

Decoding thousands of page images on many threads leaves glibc's per-thread heaps full of
freed but retained blocks, so a long run's resident memory climbs although little is live.
`malloc_trim` returns that memory; elsewhere (another libc, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_free_memory() -> bool:
    """Trim the C heap; True when something was returned to the OS."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))
