"""The kernel code forms chosen per compile target (issue 15) give the same bits.

:mod:`floodsim.kernels._jit` picks, at import, the form of two constructs from the CPU numba compiles
for: packed int64 <-> float64 conversions or their exact integer emulation (the cube-root guess of the
friction term), and masked stores or branch-free selects (the running maxima). The forms must give
bit-identical results; these tests compare them against each other and against the hardware
conversions, element by element and as the full solver state after many steps of a Merewether-like
grid (buildings, nodata, Manning's n raster, infiltration, spatial rain, outflow edge), in fresh
processes because numba and floodsim read the target and form at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pytest

from floodsim.kernels import _jit
from floodsim.kernels.fastmath import (
    count_if,
    f64_to_i64_trunc,
    freeze,
    i64_to_f64_exact,
    inv_pow_7_3,
    rcbrt_guess_emulated,
    rcbrt_guess_packed,
    select,
)

HERE = Path(__file__).resolve().parent
STATE_RUN = HERE / "kernel_state_run.py"


@numba.njit(error_model="numpy", fastmath={"contract"})
def _guesses(x, packed, emulated):
    """Both guesses over an array, in a loop LLVM vectorises (as in the friction loop)."""
    for k in range(x.size):
        packed[k] = rcbrt_guess_packed(x[k])
        emulated[k] = rcbrt_guess_emulated(x[k])


@numba.njit(error_model="numpy")
def _conversions(i, v, to_f64, to_i64):
    for k in range(i.size):
        to_f64[k] = i64_to_f64_exact(i[k])
        to_i64[k] = f64_to_i64_trunc(v[k])


def _positive_normals(rng, n):
    """Random bit patterns over every positive normal float64, plus depths from 1e-6 m to 1e3 m and the
    ends of the range (smallest normal, largest finite, powers of two and their neighbours)."""
    bits = rng.integers(0x0010000000000000, 0x7FF0000000000000, n, dtype=np.int64).view(np.float64)
    depths = 10.0 ** rng.uniform(-6, 3, n)
    p2 = 2.0 ** np.arange(-1022, 1024, dtype=np.float64)
    edges = np.concatenate([p2, np.nextafter(p2, 0.0)[1:], np.nextafter(p2, np.inf)[:-1],
                            [np.finfo(np.float64).tiny, np.finfo(np.float64).max]])
    return np.concatenate([bits, depths, edges])


def test_emulated_cube_root_guess_has_the_bits_of_the_packed_one():
    """rcbrt_guess_emulated (AVX2/SSE form) == rcbrt_guess_packed (AVX-512DQ/NEON form), bit for bit,
    over 2 million positive normal floats, compiled in a vectorised loop and called one by one."""
    x = _positive_normals(np.random.default_rng(15), 1_000_000)
    a, b = np.empty_like(x), np.empty_like(x)
    _guesses(x, a, b)
    assert np.array_equal(a.view(np.int64), b.view(np.int64))
    for v in x[::20011]:
        assert rcbrt_guess_emulated(float(v)) == rcbrt_guess_packed(float(v))


def test_exact_conversions_round_as_the_hardware():
    """i64_to_f64_exact == the hardware int64 -> float64 conversion (round to nearest even) on
    [0, 2**63), including halfway cases; f64_to_i64_trunc == truncation on [1, 2**63)."""
    rng = np.random.default_rng(16)
    i = np.concatenate([
        rng.integers(0, 2**63 - 1, 400_000, dtype=np.int64),
        # halfway and near-halfway between adjacent float64 above 2**53 (the rounding ties)
        (rng.integers(2**10, 2**52, 100_000, dtype=np.int64) << 11) | 0x400,
        (rng.integers(2**10, 2**52, 100_000, dtype=np.int64) << 11) | 0x401,
        np.array([0, 1, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1], dtype=np.int64),
    ])
    v = np.concatenate([10.0 ** rng.uniform(0, 18.9, 400_000), rng.uniform(1, 4, 1000),
                        [1.0, 1.5, 2.0**52 - 0.5, 2.0**52, 2.0**53 + 2, 2.0**62, np.nextafter(2.0**63, 0)]])
    v = v[v < 2.0**63]
    n = min(i.size, v.size)
    to_f64, to_i64 = np.empty(n), np.empty(n, np.int64)
    _conversions(i[:n], v[:n], to_f64, to_i64)
    assert np.array_equal(to_f64, i[:n].astype(np.float64))
    assert np.array_equal(to_i64, np.trunc(v[:n]).astype(np.int64))
    assert np.array_equal(np.array([i64_to_f64_exact(int(k)) for k in i[-8:]]), i[-8:].astype(np.float64))


def test_inv_pow_7_3_unchanged_by_the_form():
    """The friction power through the chosen guess still matches libm h**(-7/3) to 1e-14 (1e-6..1e3 m)."""
    h = 10.0 ** np.linspace(-6, 3, 2001)
    got = np.array([inv_pow_7_3(float(v)) for v in h])
    np.testing.assert_allclose(got, h ** (-7.0 / 3.0), rtol=1e-14, atol=0)


def test_form_follows_the_compile_target(monkeypatch):
    """AVX-512 targets get the packed/masked form, AVX2 the emulated conversions and selects, SSE-only
    the packed conversions (its face loop is scalar anyway) and selects, non-x86 packed and selects;
    whether the features are given explicitly or are a named CPU's defaults (read back from LLVM)."""
    assert _jit._cpu_default_features("haswell") == {"avx2"}
    assert _jit._cpu_default_features("znver3") == {"avx2"}
    assert _jit._cpu_default_features("x86-64") == set()
    assert _jit._cpu_default_features("skylake-avx512") == {"avx2", "avx512f", "avx512dq"}
    assert _jit._cpu_default_features("znver4") == {"avx2", "avx512f", "avx512dq"}
    x86 = "x86_64-unknown-linux-gnu"
    cases = [
        ({"triple": x86, "cpu": "znver3", "features": "+avx2,+fma,-avx512f,-avx512dq"}, (False, False)),
        ({"triple": x86, "cpu": "x", "features": "+avx2,+avx512f,+avx512dq,+avx512vl"}, (True, True)),
        ({"triple": x86, "cpu": "x", "features": "+sse4.2,-avx,-avx2,-avx512f"}, (True, False)),
        ({"triple": x86, "cpu": "sapphirerapids", "features": ""}, (True, True)),
        ({"triple": x86, "cpu": "haswell", "features": ""}, (False, False)),
        ({"triple": x86, "cpu": "x86-64", "features": ""}, (True, False)),
        ({"triple": "aarch64-unknown-linux-gnu", "cpu": "neoverse-v1", "features": "+neon"}, (True, False)),
    ]
    for target, forms in cases:
        assert _jit.forms_for(target) == forms, target
    monkeypatch.setenv("FLOODSIM_KERNEL_FORM", "avx2")
    with pytest.raises(ValueError, match="FLOODSIM_KERNEL_FORM='avx2': use one of auto, avx512, portable"):
        _jit._form_override()
    monkeypatch.setenv("FLOODSIM_KERNEL_FORM", "Portable")
    assert _jit._form_override() == "portable"


def _child_env(**update: str) -> dict:
    """This process's environment for a child that chooses its own kernel form and jit (``update``
    added), without the form override and NUMBA_DISABLE_JIT of the parent."""
    env = {k: v for k, v in os.environ.items() if k not in ("FLOODSIM_KERNEL_FORM", "NUMBA_DISABLE_JIT")}
    env.update(update)
    return env


def _run_state(tmp_path: Path, tag: str, env_update: dict, *args: str) -> tuple[dict, dict]:
    out = tmp_path / f"{tag}.npz"
    env = _child_env(**env_update)
    proc = subprocess.run([sys.executable, str(STATE_RUN), str(out), *args], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as d:
        meta = json.loads(str(d["meta"]))
        arrays = {k: d[k] for k in d.files if k != "meta"}
    return meta, arrays


def _assert_same_bits(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        same = a[k].view(np.uint8) == b[k].view(np.uint8)
        assert same.all(), f"{what}: {k} differs in {int((~same).sum())} bytes"


def _other_form() -> str:
    return "portable" if _jit.KERNEL_FORM == "avx512" else "avx512"


def test_full_state_identical_in_both_forms(tmp_path):
    """120 steps of the Merewether-like grid: the form chosen for this CPU and the other form give the
    same state to the bit (depths, discharges, maxima and their times, infiltration, band buffers,
    volume balance). The other form compiles without numba's cache (~15 s CPU)."""
    other = _other_form()
    with ThreadPoolExecutor(2) as pool:
        auto = pool.submit(_run_state, tmp_path, "auto", {})
        alt = pool.submit(_run_state, tmp_path, other, {"FLOODSIM_KERNEL_FORM": other})
        (meta_a, a), (meta_b, b) = auto.result(), alt.result()
    assert meta_a["form"] == _jit.KERNEL_FORM and meta_b["form"] == other
    assert meta_a["steps"] == meta_b["steps"] == 120
    assert meta_a["t"] == meta_b["t"] and meta_a["balance"] == meta_b["balance"]
    assert a["arrays.h"].max() > 0.05 and (a["arrays.infil_F"] > 0).any() and (a["arrays.v2_max"] > 0).any()
    _assert_same_bits(a, b, f"{_jit.KERNEL_FORM} vs {other}")


def test_disable_jit_both_forms_agree(tmp_path):
    """With NUMBA_DISABLE_JIT=1 (kernels as plain Python) both forms give the same state, so the
    Python fallbacks of the emulated conversions are exact as well (small grid: Python is slow)."""
    args = ("--n", "20", "--steps", "25")
    with ThreadPoolExecutor(2) as pool:
        p = pool.submit(_run_state, tmp_path, "py-avx512", {"NUMBA_DISABLE_JIT": "1",
                                                            "FLOODSIM_KERNEL_FORM": "avx512"}, *args)
        q = pool.submit(_run_state, tmp_path, "py-portable", {"NUMBA_DISABLE_JIT": "1",
                                                              "FLOODSIM_KERNEL_FORM": "portable"}, *args)
        (meta_p, a), (meta_q, b) = p.result(), q.result()
    assert meta_p["jit_disabled"] and meta_q["jit_disabled"]
    assert meta_p["balance"] == meta_q["balance"]
    _assert_same_bits(a, b, "NUMBA_DISABLE_JIT avx512 vs portable")


@numba.njit(error_model="numpy")
def _select_loop(c, a, b, out):
    for k in range(c.size):
        out[k] = select(c[k] != 0, a[k], b[k])


def test_select_is_the_conditional():
    """fastmath.select(c, a, b) == (a if c else b) bit for bit, in float64 and float32, with NaN, inf and
    signed zeros on the side that is dropped or kept."""
    rng = np.random.default_rng(17)
    for dtype in (np.float64, np.float32):
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -2.5], dtype)
        a = np.concatenate([rng.normal(size=500).astype(dtype), specials, specials])
        b = np.concatenate([rng.normal(size=500).astype(dtype), specials[::-1], specials])
        c = rng.integers(0, 2, a.size).astype(np.uint8)
        out = np.empty_like(a)
        _select_loop(c, a, b, out)
        expected = np.where(c != 0, a, b)
        assert np.array_equal(out.view(np.uint8), expected.view(np.uint8)), dtype


@numba.njit(error_model="numpy")
def _freeze_loop(a, out):
    for k in range(a.size):
        out[k] = freeze(a[k])


def test_freeze_is_the_identity():
    """fastmath.freeze(x) is x bit for bit in float64 and float32: NaN (with its payload), inf, signed
    zeros, subnormals."""
    rng = np.random.default_rng(18)
    for dtype in (np.float64, np.float32):
        tiny = np.finfo(dtype).smallest_subnormal
        a = np.concatenate([rng.normal(size=500).astype(dtype),
                            np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, tiny, -tiny], dtype)])
        out = np.empty_like(a)
        _freeze_loop(a, out)
        assert np.array_equal(out.view(np.uint8), a.view(np.uint8)), dtype


@numba.njit(error_model="numpy")
def _count_loop(x, threshold):
    n = np.int32(0)
    for k in range(x.size):
        n = count_if(n, x[k] > threshold)
    return n


def test_count_if_counts_in_int32():
    """fastmath.count_if adds 1 where the flag is true and stays int32 (numba would widen to int64)."""
    x = np.random.default_rng(19).normal(size=10_001).astype(np.float32)
    x[::97] = np.nan   # NaN > 0 is false: not counted
    n = _count_loop(x, np.float32(0.0))
    assert n == int((x > 0).sum())
    assert _count_loop.nopython_signatures[0].return_type == numba.int32


_NO_MASKED_MOVES = """
import json
from floodsim.kernels import continuity, fused
from floodsim.run.bench import build_simulation, make_terrain
for precision in ("double", "single"):
    sim = build_simulation(make_terrain(40), precision=precision)
    sim.advance_to(60.0)
    sim.record_maxima()
counts = {}
for name, kernel in (("sweep_bands", fused.sweep_bands), ("record_max_state", continuity.record_max_state)):
    for k, sig in enumerate(kernel.signatures):
        counts[f"{name}[{k}] IR masked loads"] = kernel.inspect_llvm(sig).count("@llvm.masked.load")
        counts[f"{name}[{k}] vmaskmov"] = kernel.inspect_asm(sig).count("vmaskmov")
print(json.dumps(counts))
"""


@pytest.mark.skipif(not _jit.compile_target()["triple"].startswith(("x86_64", "amd64")), reason="x86 targets")
def test_kernels_have_no_masked_moves_on_avx2(tmp_path):
    """Compiled for AVX2 (``NUMBA_CPU_NAME=haswell``), in both precisions, the fused sweep and the
    whole-state maxima fold have no masked loads or stores (``vmaskmovpd``/``vmaskmovps``).

    - Loads: the friction solve's select stays a select, so the loads feeding it are plain vector loads
      (before: 19 masked loads in the IR, 12 ``vmaskmovpd`` per 4 east and 4 south faces; see
      fastmath.select).
    - Stores: the maxima are written back through a select whose old value passes through
      fastmath.freeze; before, instruction selection made two ``vmaskmovps`` stores of it per row loop
      (slow on AMD Zen 2/3).

    Fresh process and numba cache (~40 s)."""
    env = _child_env(NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", _NO_MASKED_MOVES], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(counts) == 8, counts   # two kernels, two precisions, two counts
    assert all(v == 0 for v in counts.values()), counts
