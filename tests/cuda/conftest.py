"""The CUDA backend's tests run its kernels in numba's CUDA simulator (no GPU needed).

``NUMBA_ENABLE_CUDASIM=1`` must be in force before :mod:`numba.cuda` is first imported. Nothing else in
the test suite imports it (the CPU backend imports nothing of CUDA, tests/cuda/test_cuda_contract.py
checks that in a subprocess), so this conftest sets the variable and reloads numba's configuration
before any test here runs. Should :mod:`numba.cuda` already be loaded for a real GPU (a process that
imported it first), these tests skip rather than run on that device.

The simulator runs every CUDA thread as a Python thread, about 0.1 ms per cell and kernel: grids here
stay at a few hundred cells, and the stepper launches one block of one thread (kernels use grid-stride
loops, so the result does not depend on the launch; test_cuda_contract.py checks several launches).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
if "numba.cuda" not in sys.modules:
    from numba.core import config as _numba_config

    _numba_config.reload_config()


def _shared_arrays_made_once_per_block() -> None:
    """Make the simulator's shared-array allocation safe when several simulated threads ask at once.

    numba's simulator creates a block's shared array on the first ``cuda.shared.array`` call of that
    line, with a check-then-set that is not atomic: two threads arriving together can each get an array
    of their own, and a block reduction (``_block_sum2``) then adds up only part of the block. With the
    short switch interval of the multi-thread launches this happened in about half the runs of
    test_cuda_single.py::test_single_launch_configuration_does_not_change_results (the rounding ledger
    of 3 blocks of 4 threads came out as -3.46e-9, -3.60e-9 or -4.01e-9 m for the same state). The
    allocation is the simulator's own, keyed as it keys it (the caller's file and line), under a lock.
    A simulator bug, not floodsim's: on a GPU shared memory exists before the block starts."""
    import threading
    import traceback

    from numba.core import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    lock = threading.Lock()
    dynamic = kernelapi.FakeCUDAShared.array

    def array(self, shape, dtype):
        if shape == 0:   # dynamic shared memory: one buffer, made with the block, nothing to race
            return dynamic(self, shape, dtype)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe(1), limit=1)[-1][0:2]
        with lock:
            made = self._allocations.get(caller)
            if made is None:
                made = self._allocations[caller] = np.empty(shape, dtype)
        return made

    kernelapi.FakeCUDAShared.array = array


@pytest.fixture(autouse=True, scope="session")
def _simulator_shared_arrays():
    """:func:`_shared_arrays_made_once_per_block`, once, for this folder's tests (under the simulator)."""
    from numba.core import config as numba_config

    if numba_config.ENABLE_CUDASIM:
        _shared_arrays_made_once_per_block()
    yield


def pytest_collection_modifyitems(config, items):
    from numba.core import config as numba_config

    if numba_config.ENABLE_CUDASIM:
        return
    skip = pytest.mark.skip(reason="numba.cuda was imported for a real GPU before these tests; they run under "
                                   "the CUDA simulator only (run tests/cuda in its own pytest process)")
    for item in items:
        if "tests/cuda/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _long_switch_interval():
    """A simulated kernel runs in a Python thread that the simulator's main thread polls: a longer GIL
    switch interval lets it run (about 3× faster). Multi-thread launches, whose barriers each cost one
    interval, set a short one themselves."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.05)
    yield
    sys.setswitchinterval(old)


#: State arrays compared between the backends.
ARRAYS = ("h", "qx", "qy", "h_max", "v2_max", "t_hmax", "infil_F")


def assert_same_state(cpu, gpu, rtol=1e-12):
    """The two simulations' states agree to round-off: time and step count exactly; every float64 array
    within ``rtol`` of its largest magnitude; the float32 maxima within one float32 rounding
    (2**-23 relative); the volume balance terms within ``rtol`` of the largest term. Returns the largest
    differences (for the test's printout)."""
    a, b = cpu.state, gpu.state
    assert b.steps == a.steps
    assert b.t == pytest.approx(a.t, rel=1e-13, abs=1e-12)
    diffs = {}
    for name in ARRAYS:
        x = np.asarray(getattr(a, name), np.float64)
        y = np.asarray(getattr(b, name), np.float64)
        assert x.shape == y.shape, name
        both = np.isfinite(x) & np.isfinite(y)
        assert np.array_equal(np.isnan(x), np.isnan(y)), f"{name}: NaN in different cells"
        scale = float(np.max(np.abs(x[both]))) if both.any() else 0.0
        diff = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
        diffs[name] = (diff, scale)
        if name == "t_hmax":
            # the time of the maximum moves by a step where a plateau's float32 depth rounds differently
            continue
        tol = (2.0 ** -23 * 2 if getattr(a, name).dtype == np.float32 else rtol) * max(scale, 1e-300)
        assert diff <= tol, f"{name}: max |cpu - cuda| = {diff:.3g} (scale {scale:.3g})"
    ta, tb = a.t_hmax, b.t_hmax
    same_time = (ta == tb) | (np.isnan(ta) & np.isnan(tb))
    diffs["t_hmax equal"] = float(same_time.mean())
    assert same_time.mean() >= 0.99, f"t_hmax differs in {100 * (1 - same_time.mean()):.2f} % of cells"
    ba, bb = vars(cpu.balance), vars(gpu.balance)
    big = max(abs(v) for v in ba.values()) or 1.0
    for k in ba:
        assert abs(bb[k] - ba[k]) <= rtol * big, f"balance {k}: cpu {ba[k]!r}, cuda {bb[k]!r}"
    diffs["balance"] = max(abs(bb[k] - ba[k]) for k in ba) / big
    return diffs
