"""The one jit policy for every floodsim kernel.

All kernels are compiled lazily (no explicit signatures), cached on disk, release the GIL and use
numpy's floating-point error model (division by zero gives inf/NaN instead of raising, which lets
LLVM vectorise the branch-free arithmetic), and allow one fast-math flag, ``contract``: LLVM may fuse
``a * b + c`` into one fused multiply-add (FMA) instruction, rounded once instead of twice. That
changes results at round-off level only and makes the friction and depth updates about 15 % faster;
no other fast-math assumption is made (no reassociation of sums, NaN and inf are kept), so NaN checks
and the order of every sum stay as written. Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain
Python for debugging and coverage; the package keeps working (slowly).
"""

from __future__ import annotations

import numba

#: True when numba runs kernels as plain Python (``NUMBA_DISABLE_JIT=1``).
JIT_DISABLED: bool = bool(numba.config.DISABLE_JIT)

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

#: Decorator for serial kernels and scalar helpers.
kernel = numba.njit(**_OPTIONS)

#: Decorator for kernels whose outer loop is a ``numba.prange`` over independent bands of rows.
parallel_kernel = numba.njit(parallel=True, **_OPTIONS)

prange = numba.prange

__all__ = ["JIT_DISABLED", "kernel", "parallel_kernel", "prange"]
