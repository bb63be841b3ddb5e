"""The CUDA backend's contract: launch-independent kernels, checkpoints shared with the CPU backend,
read-only mirrored state, no CUDA import for the CPU default, and a clear exit 2 without a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from floodsim import Boundary, Grid, Hyetograph, Inflow, Simulation, SolverParams, TimeSeries
from floodsim.errors import InputDataError, ScenarioError, StabilityError

from .conftest import assert_same_state

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "merewether_cloudburst.toml"


def _small(backend, shape=(11, 13), precision="double"):
    """A tilted, bumpy plane with buildings (roof rain to the ground), an inflow and free outflow south."""
    rng = np.random.default_rng(3)
    z = 0.02 * np.arange(shape[0])[::-1, None] + rng.uniform(0.0, 0.05, shape)
    blocked = np.zeros(shape, bool)
    blocked[4:6, 3:5] = True
    cells = np.zeros(shape, bool)
    cells[1, 6:8] = True
    return Simulation(Grid.from_array(z, 2.0), rainfall=Hyetograph.block(150.0, 300.0), manning=0.03, blocked=blocked,
                      inflows=[Inflow("pipe", cells=cells, discharge=TimeSeries([0, 100, 200], [0.0, 0.05, 0.0]))],
                      boundaries=[Boundary("south", "free", slope=0.02)],
                      params=SolverParams(band_rows=3, backend=backend, precision=precision))


def _env_without_simulator():
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    return env


def step_cpu_one_many(precision="double", steps=25):
    """:func:`_small` on the CPU, on one GPU thread and on 3 blocks of 4 threads, each stepped ``steps``
    times from its recorded initial state; returns the three simulations."""
    from floodsim.core.cuda_backend import CudaStepper

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)   # each simulated barrier waits for a thread switch
    try:
        cpu, one, many = (_small(b, precision=precision) for b in ("cpu", "cuda", "cuda"))
        many._device = CudaStepper(many, threads=4, blocks=3)
        assert (one._device.threads, one._device.max_blocks) == (1, 1)
        for sim in (cpu, one, many):
            sim.record_maxima()
            for _ in range(steps):
                sim.step()
    finally:
        sys.setswitchinterval(old)
    return cpu, one, many


def test_launch_configuration_does_not_change_results():
    """Several blocks of several threads (block reductions with barriers, grid-stride loops over more
    items than threads) give what one thread gives, and what the CPU gives."""
    cpu, one, many = step_cpu_one_many()
    for a, b in ((one, many), (cpu, many)):
        assert_same_state(a, b)
    np.testing.assert_array_equal(one.state.h, many.state.h)   # same arithmetic, only the sums' order differs
    assert float(cpu.state.h.max()) > 0.001


def test_checkpoints_move_between_backends():
    """A state saved on either backend continues on the other exactly as it would have on its own."""
    ref, gpu = _small("cpu"), _small("cuda")
    for sim in (ref, gpu):
        sim.advance_to(60.0)
    to_cpu, to_gpu = _small("cpu"), _small("cuda")
    to_cpu.set_state(gpu.get_state())
    to_gpu.set_state(ref.get_state())
    assert_same_state(ref, to_gpu)
    for sim in (ref, gpu, to_cpu, to_gpu):
        sim.advance_to(140.0)
    assert_same_state(ref, to_gpu)
    assert_same_state(ref, to_cpu)
    assert_same_state(ref, gpu)
    bad = gpu.get_state()
    bad["arrays"]["h"] = np.zeros((3, 3))
    with pytest.raises(InputDataError, match="saved for another grid"):
        to_gpu.set_state(bad)


def test_device_state_is_mirrored_read_only():
    sim = _small("cuda")
    sim.advance_to(30.0)
    h = sim.state.h
    assert h.shape == sim.grid.shape and h.dtype == np.float64 and float(h.max()) > 0
    with pytest.raises(ValueError, match="read-only"):
        h[0, 0] = 1.0          # a write the device would never see fails loudly
    before = h.copy()
    sim.step()
    assert sim.state.h is h and not np.array_equal(sim.state.h, before)   # fetched again after a step


def test_nan_depth_stops_the_run():
    sim = _small("cuda")
    sim.advance_to(30.0)
    state = sim.get_state()
    state["arrays"]["h"][5, 6] = np.nan
    sim.set_state(state)
    with pytest.raises(StabilityError, match="NaN"):
        for _ in range(40):
            sim.step()


def test_backend_is_validated():
    with pytest.raises(InputDataError, match="backend='tpu'"):
        SolverParams(backend="tpu")


def test_scenario_backend_field(tmp_path):
    from floodsim.scenario.load import load_scenario

    path = tmp_path / "s.toml"
    path.write_text(f'extends = "{SCENARIO.as_posix()}"\nname = "x"\n[simulation]\nduration_min = 1.0\n'
                    'backend = "gpu"\n')
    with pytest.raises(ScenarioError, match="backend"):
        load_scenario(path)
    path.write_text(path.read_text().replace('"gpu"', '"cuda"'))
    assert load_scenario(path).simulation.backend == "cuda"


def test_cpu_default_imports_nothing_of_cuda():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from floodsim import Grid, Hyetograph, Simulation
        from floodsim.build.model import build_model
        from floodsim.scenario.load import load_scenario
        sim = Simulation(Grid.from_array(np.zeros((8, 8)), dx=1.0), rainfall=Hyetograph.block(60.0, 60.0))
        sim.advance_to(30.0)
        sc = load_scenario(sys.argv[1])
        sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"coarsen": 32})})
        build_model(sc).simulation.advance_to(10.0)
        loaded = sorted(m for m in sys.modules if m.startswith("numba.cuda") or "kernels.cuda" in m
                        or m.endswith("cuda_backend"))
        print(loaded)
        assert not loaded, loaded
    """)
    out = subprocess.run([sys.executable, "-c", code, str(SCENARIO)], capture_output=True, text=True,
                         env=_env_without_simulator(), cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_no_gpu_is_exit_2_naming_the_setting(tmp_path):
    """Without the simulator and without a GPU, ``backend = "cuda"`` stops validate and run with exit 2,
    naming the scenario file and the setting, and saying what to do; nothing is written."""
    probe = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                           capture_output=True, text=True, env=_env_without_simulator(), timeout=120)
    if probe.stdout.strip() == "True":
        pytest.skip("this machine has a CUDA GPU: the no-GPU message cannot be shown here")
    path = tmp_path / "gpu.toml"
    path.write_text(f'extends = "{SCENARIO.as_posix()}"\nname = "gpu"\n[simulation]\nduration_min = 1.0\n'
                    'coarsen = 32\nbackend = "cuda"\n')
    out_dir = tmp_path / "out"
    for verb in (["validate", str(path)], ["run", str(path), "--out", str(out_dir)]):
        res = subprocess.run([sys.executable, "-m", "floodsim", *verb], capture_output=True, text=True,
                             env=_env_without_simulator(), cwd=ROOT, timeout=300)
        assert res.returncode == 2, (verb, res.stdout[-500:], res.stderr[-2000:])
        msg = res.stderr + res.stdout
        assert "gpu.toml" in msg and 'backend = "cuda"' in msg and 'backend = "cpu"' in msg
        assert "Traceback" not in msg
    assert not out_dir.exists() or not any(out_dir.iterdir())
