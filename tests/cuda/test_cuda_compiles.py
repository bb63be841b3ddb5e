"""Every CUDA kernel compiles for a real GPU (PTX for sm_90, an H200), in float64 and float32.

The simulator runs the kernels as Python, which accepts code that numba-cuda's compiler would reject.
This compiles each kernel with numba-cuda and NVVM, which need no GPU, in a subprocess without the
simulator. It skips where numba-cuda, NVVM or NVRTC is not installed (``pip install "floodsim[cuda]"
nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12``), as in CI, which installs only the test extra.

The signatures are those the stepper launches for ``precision = "double"`` and ``"single"`` (the state,
bed and per-cell parameters in float64 or float32, a uniform Manning's n and the scalars float64). It
also checks what the typing does with the precision: the float32 face kernel computes in float32 (no
float64 instruction in its PTX: numba-cuda would promote ``float32 * 0.5`` to float64, so a literal
left uncast shows here), and the float32 depth update computes the depth in float64 (``.f64``
arithmetic) and the speeds in float32 (``1 / h`` as ``rcp.rn.f32``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    try:
        import numba_cuda  # noqa: F401  (the NVIDIA numba-cuda package, not numba's built-in target)
        from numba import cuda, types as T
        from numba.cuda.cudadrv import nvvm
        nvvm.NVVM().get_version()
        from numba.cuda.cudadrv import nvrtc
        nvrtc.NVRTC() if hasattr(nvrtc, "NVRTC") else None
        import numba.cuda.dispatcher as disp
    except Exception as exc:
        print("SKIP", type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
        sys.exit(0)

    class H200:   # device functions ask the current device for its compute capability; there is none here
        compute_capability = (9, 0)

    disp.get_current_device = lambda: H200()
    from floodsim.kernels.cuda import repair as rk, step as sk

    def A(dt, nd):
        return T.Array(dt, nd, "C")

    f8, f4, i8, u1, i4, b1 = T.float64, T.float32, T.int64, T.uint8, T.int32, T.boolean
    failed = []
    for f in (f8, f4):
        F2 = A(f, 2)
        I1, M2, U = A(i8, 1), A(f4, 2), A(f8, 2)   # U: a uniform (1, 1) Manning's n or rain field
        sigs = {
            sk.boundary_fluxes: (F2, F2, U, F2, F2, I1, I1, I1, I1, A(f8, 1), A(f8, 1), f8, f8, f8, f8, f8, A(f8, 2)),
            sk.face_fluxes_for(str(f)): (F2, F2, A(u1, 2), F2, F2, F2, F2, F2, A(u1, 1), i8, f8, f8, f8, f8, f8, f8),
            sk.update_depth_for(str(f)): (F2, F2, F2, A(u1, 2), A(u1, 1), i8, f8, U, i8, F2, F2, F2, F2, f8, f8, f8,
                                          f8, f8, f8, f8, M2, M2, M2, A(f8, 2), A(u1, 1)),
            sk.record_max_state_for(str(f)): (F2, F2, F2, f8, f8, M2, M2, M2),
            sk.add_depth: (F2, I1, f8, A(f8, 2), i8),
            sk.route_roof_rain: (F2, I1, I1, I1, f8, U, f8, A(f8, 2), i8),
            sk.cells_wave: (F2, I1, f8, f8, i8, A(u1, 1), A(f8, 2), i8),
            sk.depth_sum: (F2, A(f8, 2), i8),
            rk.collect_negatives: (F2, A(u1, 2), f8, A(i4, 1), A(i4, 1)),
            rk.repair: (F2, F2, F2, A(u1, 2), F2, i8, f8, f8, f8, f8, A(i4, 1), A(i4, 1), A(u1, 1), b1, A(f8, 1)),
        }
        if f == f4:   # a per-cell Manning's n has the state's dtype
            sigs[sk.boundary_fluxes] = (F2, F2, F2) + sigs[sk.boundary_fluxes][3:]
        for kernel, sig in sigs.items():
            name = f"{kernel.py_func.__name__}[{f}]"
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
                print("OK", name, len(ptx))
            except Exception as exc:
                failed.append(name)
                print("FAILED", name, type(exc).__name__, str(exc)[:2000])
                continue
            body = [line.split()[0] for line in ptx.splitlines() if line.strip() and not line.lstrip().startswith(("//", "."))]
            # float64 arithmetic (conversions excluded: the float64 scalars and a uniform n are cast once)
            f64_ops = [op for op in body if op.endswith(".f64") and not op.startswith(("ld.", "st.", "mov.", "cvt."))]
            if kernel is sk.face_fluxes_single and f64_ops:
                failed.append(name + " computes in float64")
                print("FAILED", name, "float64 instructions in the float32 face kernel:", sorted(set(f64_ops))[:20])
            if kernel is sk.update_depth_single and not any(op.startswith("add.") or op.startswith("fma.")
                                                                 for op in f64_ops):
                failed.append(name + " computes in float32")
                print("FAILED", name, "no float64 arithmetic in the float32 depth update")
            if kernel is sk.update_depth_single and not any(op.startswith(("div.", "rcp.")) and op.endswith(".f32")
                                                            for op in body):
                failed.append(name + " speeds in float64")
                print("FAILED", name, "no float32 division (the speeds of single precision) in the depth update")
    sys.exit(1 if failed else 0)
""")


def test_every_kernel_compiles_for_sm90():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    if res.stdout.startswith("SKIP"):
        pytest.skip(f"numba-cuda with NVVM/NVRTC is not installed here ({res.stdout.strip()[5:]})")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert res.stdout.count("OK ") == 20
