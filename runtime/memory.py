"""Giving freed heap memory back to the operating system during long runs.

A streaming sync frees each chunk's objects before it reads the next, but glibc's allocator
keeps freed blocks in its arenas, and fragmentation between chunks (SQLite's statement and
page buffers, HTTP response bodies, JSON) makes the process's resident size creep up with
the number of records even though the live data stays flat. :func:`release_free_memory` asks
glibc to return what it holds unused (``malloc_trim(0)``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["release_free_memory"]


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Return unused heap memory to the operating system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
