"""Single precision (``[simulation] precision = "single"``) on the CUDA backend against the CPU's single precision.

Both backends store the depth, discharges, infiltration and bed in float32, compute the face fluxes in
float32, the depth update, every volume and the balance in float64, the wet flags, Courant speeds and
maxima in float32 from the stored values, and measure the rounding of each stored depth into the
balance's ``rounding`` term (floodsim.core.massbalance). They do not agree to the
last bit, as float64 does: in float32 the difference between the CPU's cube root of the friction term
(a bit-level guess refined by a series, a few ulp) and the device's (``cbrtf`` then a division), and
multiply-adds that the CPU's LLVM fuses where the simulator does not, are 1e-7 relative, not 1e-16. What
the cases here show (under numba's CUDA simulator, the same cases as test_cuda_matches_cpu.py and the
coarsened Merewether of test_cuda_merewether.py; measured 2026-12-02, asserted with margin):

==========================  =====  ===========  ===========  ==========  ============  ===================
case                        steps  max |Δh|     max |Δq|     |Δv2_max|   GPU closure   rounding cpu / gpu
                                   of max h     of max q     of max      (relative)    (relative)
==========================  =====  ===========  ===========  ==========  ============  ===================
rain basin                  same   2.1e-7       4.4e-6       2.2e-6      8e-16         2.9e-8 / -1.0e-8
Green–Ampt, roofs, inflow   same   1.7e-7       6.4e-6       4.4e-7      3e-16         -4.7e-8 / -1.4e-8
Horton, raster, drained     same   2.3e-7       8.5e-6       1.7e-6      1e-16         -1.1e-9 / 8.3e-9
dam break (repairs)         same   1.4e-6       1.4e-6       2.9e-5      5e-16         8.3e-9 / -3.3e-9
lake with tide (repairs)    same   1.8e-7       9.4e-6       2.1e-6      4e-17         -3.3e-8 / 1.6e-8
Merewether cloudburst 16 m  same   1.3e-6       8.2e-5       1.1e-5      6e-16         -5.5e-10 / 4.9e-9
==========================  =====  ===========  ===========  ==========  ============  ===================

Tolerances, in units of float32's epsilon ``2**-23`` (1.19e-7) times the array's largest magnitude: depths
and maxima 32 ε (measured up to 12 ε), squared speeds 2048 ε (``q² / h²`` in cells just deeper than the
1 cm speed threshold; measured up to 240 ε), infiltration 64 ε (measured 14 ε), discharges 64 ε per metre
of the highest water level, at least 4 m (measured 79 ε at 1.2 m, 691 ε on Merewether at 52 m): a
discharge is driven by the difference of two float32 water levels ``z + h``, whose round-off is the ulp
of the level (1.9e-6 m at 16-32 m), divided by a level difference of millimetres on gentle slopes.
The time of the maximum depth agrees in >= 80 % of the cells (measured 95-100 %), except where the run
starts with standing water (dam break, lake), whose depth sits at its maximum give or take an ulp.
The steps must agree within 1 % (all agree exactly here). The device's balance closes to < 1e-9 of the
volume (the rounding ledger accounts for every float32 store, including the positivity repair's, see
floodsim.kernels.cuda.repair; the CPU's repair does not ledger its stores yet, which leaves its closure at
up to ~2e-9 in the two cases with repairs). The rounding term is a sum of signed half-ulp residuals of
cells whose float32 states differ in the last bits between the backends, so it agrees in magnitude only:
both well under ``max_relative_rounding`` (< 1e-6 of the volume) and within a factor of 30 of each other
(measured: up to 9; either may be near zero by chance, so 1e-9 of the volume stands in for a smaller one).

The CPU's kernels must be compiled from the current sources: numba's on-disk cache (``cache=True``) is
invalidated by a change of the cached function's own file only, so after a change to
floodsim/kernels/continuity.py a stale cache of floodsim/kernels/fused.py still runs the old depth update
(on 2026-12-02 the CPU then compared depths with ``hmin`` in float64, the device in float32 as the new
source does: a depth of exactly float32(1 mm) was wet on one backend only, and the rain basin's depths
differed by 3e-4 of their maximum). Run
with ``NUMBA_CACHE_DIR`` set to an empty folder, or clear floodsim/kernels/__pycache__, after such changes.
"""

from __future__ import annotations

import numpy as np
import pytest

from floodsim.build.model import build_model
from floodsim.run.recorder import run_simulation
from tests.integration.conftest import SCENARIOS, coarsened

from .conftest import ARRAYS
from .test_cuda_matches_cpu import CASES, _run_both

EPS32 = 2.0 ** -23
#: Largest |cpu - cuda| per array, in float32 epsilons of the array's largest magnitude (see the docstring);
#: the discharges' is multiplied by the highest water level in metres (at least MIN_LEVEL_M).
TOLERANCE_EPS = {"h": 32, "qx": 64, "qy": 64, "h_max": 32, "v2_max": 2048, "infil_F": 64}
#: ... times max(MIN_LEVEL_M, the highest water level [m]) for the discharges.
MIN_LEVEL_M = 4.0
#: Largest relative rounding term either backend may show here (max_relative_rounding is 1e-4).
MAX_ROUNDING = 1e-6
#: The two rounding terms agree within this factor, above a floor of ROUNDING_FLOOR of the volume: a sum of
#: signed residuals can come out near zero on either backend by chance (the CPU's dam break: 1.3e-9).
ROUNDING_FACTOR, ROUNDING_FLOOR = 30.0, 1e-9


def assert_single_agrees(cpu, gpu, still_water_at_start=False):
    """The CPU's and the device's single-precision runs agree to float32 round-off; returns the figures.

    ``still_water_at_start``: the run starts with standing water, whose depth then sits at its maximum
    give or take an ulp, so the time of the maximum is round-off there and is not compared."""
    a, b = cpu.state, gpu.state
    wet = np.asarray(a.h_max) > cpu.params.hmin
    level = float(np.max((np.asarray(cpu.z, np.float64) + np.asarray(a.h_max, np.float64))[wet], initial=0.0))
    assert abs(b.steps - a.steps) <= 0.01 * a.steps, f"steps: cpu {a.steps}, cuda {b.steps}"
    assert b.t == pytest.approx(a.t, rel=1e-6)
    figures = {"steps": (a.steps, b.steps), "highest water level m": level}
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.float32, (name, x.dtype, y.dtype)
        if name == "t_hmax":
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            figures["t_hmax equal"] = float(same.mean())
            # a plateau's maximum may be reached a step earlier or later where the float32 depths differ
            assert still_water_at_start or same.mean() >= 0.8, \
                f"t_hmax differs in {100 * (1 - same.mean()):.1f} % of cells"
            continue
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        scale = float(np.nanmax(np.abs(x))) if x.size else 0.0
        diff = float(np.nanmax(np.abs(x - y))) if x.size else 0.0
        figures[name] = diff / scale if scale > 0 else diff
        tol_eps = TOLERANCE_EPS[name] * (max(MIN_LEVEL_M, level) if name in ("qx", "qy") else 1.0)
        assert diff <= tol_eps * EPS32 * max(scale, 1e-30), \
            f"{name}: max |cpu - cuda| = {diff:.3g} = {diff / max(scale, 1e-30) / EPS32:.0f} eps of {scale:.3g}"
    rounding = {}
    for label, sim in (("cpu", cpu), ("cuda", gpu)):
        total = sim.total_volume()
        rounding[label] = sim.balance.relative_rounding(total)
        figures[f"closure {label}"] = sim.balance.relative_error(total)
        assert abs(rounding[label]) <= MAX_ROUNDING, (label, rounding[label])
    figures["rounding cpu"], figures["rounding cuda"] = rounding["cpu"], rounding["cuda"]
    assert abs(figures["closure cuda"]) < 1e-9, figures["closure cuda"]
    # the same magnitude: neither is more than ROUNDING_FACTOR times the other (or than the floor)
    for x, y in ((rounding["cpu"], rounding["cuda"]), (rounding["cuda"], rounding["cpu"])):
        assert abs(x) <= ROUNDING_FACTOR * max(abs(y), ROUNDING_FLOOR), \
            f"rounding: cpu {rounding['cpu']:.3g}, cuda {rounding['cuda']:.3g}"
    # the other balance terms: inflows and rain exactly as in float64, volumes through boundaries and soil
    # as the float32 states (to float32 round-off of the largest term)
    ba, bb = vars(cpu.balance), vars(gpu.balance)
    biggest = max(abs(v) for v in ba.values()) or 1.0
    for k in ba:
        if k != "rounding":
            assert abs(bb[k] - ba[k]) <= 64 * EPS32 * biggest, f"balance {k}: cpu {ba[k]!r}, cuda {bb[k]!r}"
    return figures


def _line(name, figures):
    return f"{name}: " + ", ".join(f"{k} {v}" if isinstance(v, tuple) else f"{k} {v:.2g}" for k, v in figures.items())


@pytest.mark.parametrize("make", CASES, ids=[c.__name__ for c in CASES])
def test_cuda_single_matches_cpu_single(make):
    runs = _run_both(make, "single")
    (cpu, ds_cpu), (gpu, ds_gpu) = runs["cpu"], runs["cuda"]
    assert gpu._device is not None and gpu._device.single and cpu.state.h.dtype == np.float32
    figures = assert_single_agrees(cpu, gpu, still_water_at_start=make.__name__ in ("dam_break", "lake_with_tide"))
    depth_cpu, depth_gpu = ds_cpu["depth"].values, ds_gpu["depth"].values
    np.testing.assert_allclose(depth_gpu, depth_cpu, rtol=0, atol=32 * EPS32 * float(np.nanmax(depth_cpu)))
    print(_line(make.__name__, figures) + f", repairs on the device {gpu._device.repairs}")
    assert cpu.state.steps > 50
    if make.__name__ == "dam_break":
        assert gpu._device.repairs > 0   # the device repair (and its rounding ledger) was exercised


def test_single_rounding_is_ledgered_per_source():
    """An inflow and roof rain add depths that float32 rounds: the device's ledger has their rounding, so
    the balance closes to double round-off although the rounding itself is float32's."""
    make = next(c for c in CASES if c.__name__ == "green_ampt_buildings_inflow")
    sim, _, _ = make("cuda", "single")
    sim.advance_to(200.0)
    total = sim.total_volume()
    assert sim.balance.inflow > 0 and sim.balance.rounding != 0.0
    assert abs(sim.balance.relative_error(total)) < 1e-12
    assert 1e-12 < abs(sim.balance.relative_rounding(total)) < MAX_ROUNDING
    sim.check_plausible()


def test_double_precision_ledgers_no_rounding():
    make = next(c for c in CASES if c.__name__ == "dam_break")
    sim, _, _ = make("cuda", "double")
    sim.advance_to(10.0)
    assert sim._device.repairs > 0 and not sim._device.single
    assert sim.balance.rounding == 0.0


def test_merewether_single_cuda_matches_cpu_single():
    """The bundled cloudburst, coarsened to 16 m (26 × 20 cells), in single precision on both backends."""
    sims = {}
    for backend in ("cpu", "cuda"):
        sc = coarsened(SCENARIOS / "merewether_cloudburst.toml", 16, backend=backend, precision="single",
                       duration_min=15.0, output_interval_min=7.5)
        sim = build_model(sc).simulation
        assert sim.state.h.dtype == np.float32 and sim.z.dtype == np.float32
        run_simulation(sim, 15.0 * 60.0, 7.5 * 60.0)
        sims[backend] = sim
    cpu, gpu = sims["cpu"], sims["cuda"]
    figures = assert_single_agrees(cpu, gpu)
    print(_line("merewether_cloudburst single", figures))
    assert cpu.state.steps > 100
    assert float(cpu.state.h_max.max()) > 0.1


def test_single_launch_configuration_does_not_change_results():
    """Several blocks of several threads give, in single precision, the state one thread gives, bit for bit
    (the per-block sums of the rounding, of the depth update and of the sources, only reorder): the
    rounding ledger is launch-independent to double round-off."""
    from .test_cuda_contract import step_cpu_one_many

    cpu, one, many = step_cpu_one_many("single")
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(one.state, name), getattr(many.state, name), err_msg=name)
    assert one.balance.rounding != 0.0 and one.balance.inflow > 0
    assert many.balance.rounding == pytest.approx(one.balance.rounding, rel=1e-9, abs=1e-15)
    assert float(cpu.state.h.max()) > 0.001
    h_cpu, h_gpu = np.asarray(cpu.state.h, np.float64), np.asarray(many.state.h, np.float64)
    assert np.max(np.abs(h_cpu - h_gpu)) <= 32 * EPS32 * np.max(h_cpu)


def test_single_checkpoints_move_between_backends():
    """A float32 state saved on either backend continues on the other, to float32 round-off."""
    from .test_cuda_contract import _small

    ref, gpu = _small("cpu", precision="single"), _small("cuda", precision="single")
    for sim in (ref, gpu):
        sim.advance_to(60.0)
    to_gpu = _small("cuda", precision="single")
    to_gpu.set_state(ref.get_state())
    assert to_gpu.state.h.dtype == np.float32
    np.testing.assert_array_equal(to_gpu.state.h, ref.state.h)
    assert to_gpu.balance.rounding == ref.balance.rounding
    for sim in (ref, to_gpu):
        sim.advance_to(140.0)
    h_ref, h_gpu = np.asarray(ref.state.h, np.float64), np.asarray(to_gpu.state.h, np.float64)
    assert np.max(np.abs(h_ref - h_gpu)) <= 32 * EPS32 * np.max(h_ref)
    assert abs(to_gpu.balance.relative_error(to_gpu.total_volume())) < 1e-9
