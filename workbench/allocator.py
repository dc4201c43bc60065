"""Keep freed memory in the process instead of handing it back to the system after every op.

A meta-step on the CPU allocates and frees the same few-megabyte tensors hundreds of times
(the activations of a task and their gradients, twice over in second order). glibc's malloc
serves blocks above its mmap threshold with fresh pages from the kernel and returns them on
free, and it trims the top of its heap as soon as a few hundred kilobytes are free, so every
such tensor costs page faults: measured on a 2-core VM, 20-way 1-shot second-order MAML with
the max-pool Conv4 took 125,000 minor page faults and 0.24 s of system time per meta-step
(wall 1.65 s); with these two settings, 1 fault, no system time, wall 1.19 s. PyTorch's own
CPU tuning guide makes the same point and suggests jemalloc or tcmalloc by ``LD_PRELOAD``;
``mallopt`` gets glibc there without a preloaded library. The price is that the process keeps
its peak heap until it ends, as PyTorch's CUDA caching allocator does on the GPU.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: the largest mmap threshold glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2): 32 MiB
MMAP_THRESHOLD_BYTES = 32 * 2**20
#: free memory at the top of the heap kept rather than trimmed
TRIM_THRESHOLD_BYTES = 2**30
#: set to 0 to keep glibc's defaults (for comparing, or when memory is tight)
ENV = "WORKBENCH_KEEP_FREED_MEMORY"

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed blocks of up to 32 MiB and not to trim its heap;
    True when set (once per process), False where this is not glibc on Linux or ``$ENV`` is 0."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux") or os.environ.get(ENV, "1").strip() == "0":
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return _done
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    return _done
