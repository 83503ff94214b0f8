"""Keep freed memory in the process for the next training step (glibc only).

Every training step allocates the same few hundred arrays and frees them at the end. By
default glibc hands the freed top of the heap back to the kernel, so the next step's arrays
land on fresh pages, and each first touch of a page is a page fault: measured here, adding
two (32, 256) float32 arrays and keeping the result cost 18 us instead of 4 us. Raising the
trim threshold and the top pad keeps up to a few hundred MB of freed heap for reuse, and a
fixed mmap threshold keeps arrays of up to 32 MB on that heap (instead of fresh mmaps). Set
TINYGRAD_RNN_KEEP_MEMORY=0 to leave the allocator as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory(trim_mb: int = 512, pad_mb: int = 64, mmap_mb: int = 32) -> bool:
    """Tune glibc's malloc as described above; False where it does not apply."""
    if not sys.platform.startswith("linux") or os.environ.get("TINYGRAD_RNN_KEEP_MEMORY") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(opt, mb << 20) == 1 for opt, mb in (
        (_M_TRIM_THRESHOLD, trim_mb), (_M_TOP_PAD, pad_mb), (_M_MMAP_THRESHOLD, mmap_mb)))
