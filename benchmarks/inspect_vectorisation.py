"""Which hot loops of the fused sweep vectorise, for each CPU numba compiles for.

Usage::

    python benchmarks/inspect_vectorisation.py                          # native, haswell, x86-64
    python benchmarks/inspect_vectorisation.py --targets native,znver3 --all-loops
    python benchmarks/inspect_vectorisation.py --dump-asm /tmp/asm      # also write the assembly

For every target (in a fresh process with ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` as ``bench_core.py
--cpu``, and an empty numba cache: numba shows no assembly for cached kernels) the kernels are compiled on a 40×40 run of the benchmark
terrain, and the assembly of ``sweep_bands`` (``dispatcher.inspect_asm(signature)``; the row kernels
``flux_row`` and ``continuity_row`` are inlined into it) is cut into its innermost loops: a backward
jump to a label closes a loop, and loops that contain another loop are left out. Each loop is
classified by what it computes: the one with square roots is the face-flux loop (``almeida_flux``:
``implicit_friction``'s sqrt, ``inv_pow_7_3``), the one that divides without a square root is the
fold of the running maxima and Courant speeds (``continuity_row`` step 3: one division by the depth
per cell); the rest are copies, the depth update and the boundary rows. Both precisions are compiled
(``sweep_bands[float64]``, ``sweep_bands[float32]``). Columns (instruction counts in the loop body):

- ``width``: widest vector register used (zmm 512-bit, ymm 256-bit, xmm only: 128-bit or scalar);
- ``packed`` / ``scalar``: packed (``…pd``/``…ps``) and scalar (``…sd``/``…ss``) floating-point ops;
- ``k-mask``: AVX-512 masked operations (``{%k}``); ``maskmov``: AVX2 ``vmaskmov`` (slow stores on
  AMD Zen 2/3); ``blendv``: variable blends (selects); ``gather``: gathers;
- ``cvt i64``: scalar int64 <-> float64 conversions (``cvtsi2sd``/``cvttsd2si`` with a 64-bit register):
  each is a lane that left the vector;
- ``max i64``: packed int64 maxima (``vpmaxsq``, AVX-512 only).

A loop is vectorised when ``packed`` dominates and ``scalar`` and ``cvt i64`` are (near) zero.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine_facts, parse_targets, target_env  # noqa: E402

_JUMP = re.compile(r"j[a-z]+\s+(\S+)$")
_CVT_I64 = re.compile(r"v?cvtt?(si2sd|sd2si)q?\s+.*%r|v?cvtt?(si2sd|sd2si)q?\s+%r")
_PACKED = re.compile(r"v?[a-z0-9]+p[sd]\s")
_SCALAR = re.compile(r"v?(add|sub|mul|div|sqrt|max|min|fmadd|fnmadd|fmsub|fnmsub|cmp)[a-z0-9]*s[sd]\s")


def innermost_loops(asm: str) -> list[list[str]]:
    """The bodies (instruction lists) of the innermost loops of an assembly listing, in code order."""
    labels, instr = {}, []
    for line in asm.splitlines():
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        if s.endswith(":"):
            labels[s[:-1]] = len(instr)
        elif not s.startswith("."):
            instr.append(s)
    spans = set()
    for k, ins in enumerate(instr):
        m = _JUMP.match(ins)
        if m and labels.get(m.group(1), k + 1) <= k:
            spans.add((labels[m.group(1)], k))
    inner = [s for s in spans if not any(o != s and s[0] <= o[0] and o[1] <= s[1] for o in spans)]
    return [instr[a:b + 1] for a, b in sorted(inner)]


def loop_stats(body: list[str]) -> dict:
    """Counts of the vector and scalar instructions of one loop body (see the module docstring)."""
    if any("zmm" in i for i in body):
        width = "zmm"
    elif any("ymm" in i for i in body):
        width = "ymm"
    elif any(_PACKED.match(i) and "xmm" in i for i in body):
        width = "xmm"
    else:
        width = "scalar"
    sqrt = sum("sqrt" in i for i in body)
    divide = sum(i.startswith(("div", "vdiv")) for i in body)
    kind = "flux faces" if sqrt else "maxima fold" if divide else "other"
    return {
        "kind": kind,
        "instructions": len(body),
        "width": width,
        "packed": sum(bool(_PACKED.match(i)) for i in body),
        "scalar": sum(bool(_SCALAR.match(i)) for i in body),
        "k_mask": sum("{%k" in i for i in body),
        "maskmov": sum("maskmov" in i for i in body),
        "blendv": sum("blendv" in i for i in body),
        "gather": sum("gather" in i for i in body),
        "cvt_i64": sum(bool(_CVT_I64.search(i)) for i in body),
        "max_i64": sum(i.startswith(("vpmaxsq", "vpmaxuq")) for i in body),
        "sqrt": sqrt,
    }


def inspect_here(dump: Path | None) -> dict:
    """Compile the kernels for this process's target and analyse ``sweep_bands`` (child process)."""
    from floodsim.kernels import continuity, fused
    from floodsim.run.bench import build_simulation, make_terrain

    for precision in ("double", "single"):
        sim = build_simulation(make_terrain(40), precision=precision)
        sim.advance_to(120.0)
    facts = machine_facts()
    out = {"target": facts["target"], "cpu_model": facts.get("cpu_model"), "kernels": {}}
    for name, disp in (("sweep_bands", fused.sweep_bands), ("continuity_row", continuity.continuity_row)):
        h_arg = disp.py_func.__code__.co_varnames.index("h")
        for sig in disp.signatures:
            dtype = str(sig[h_arg].dtype)   # the state's precision: float64 or float32
            asm = disp.inspect_asm(sig)
            if dump is not None:
                dump.mkdir(parents=True, exist_ok=True)
                (dump / f"{facts['target']['requested']}-{name}-{dtype}.s").write_text(asm)
            loops = [loop_stats(b) for b in innermost_loops(asm)]
            out["kernels"][f"{name}[{dtype}]"] = loops
    return out


def _print(results: dict, all_loops: bool) -> None:
    cols = ("instructions", "width", "packed", "scalar", "k_mask", "maskmov", "blendv", "gather", "cvt_i64",
            "max_i64")
    head = ("target", "kernel", "loop", *cols)
    lines = []
    for t, res in results.items():
        for kname, loops in res["kernels"].items():
            if not kname.startswith("sweep_bands") and not all_loops:
                continue
            for k, lp in enumerate(loops):
                if not all_loops and (lp["kind"] == "other" or lp["instructions"] < 12):
                    continue
                lines.append((f"{t} ({res['target']['llvm_cpu']})", kname, f"{k}: {lp['kind']}",
                              *(str(lp[c]) for c in cols)))
    widths = [max(len(h), *(len(x[i]) for x in lines)) if lines else len(h) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for x in lines:
        print("  ".join(c.ljust(w) for c, w in zip(x, widths)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="native,haswell,x86-64",
                    help="comma-separated --cpu targets (see bench_core.py --cpu); default native,haswell,x86-64")
    ap.add_argument("--all-loops", action="store_true",
                    help="list every innermost loop (also copies and small ones), and continuity_row alone")
    ap.add_argument("--dump-asm", type=Path, default=None, metavar="DIR", help="write each kernel's assembly here")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "inspect_vectorisation.json")
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        args.child.write_text(json.dumps(inspect_here(args.dump_asm), indent=2))
        return 0
    import subprocess

    results = {}
    with tempfile.TemporaryDirectory(prefix="floodsim-asm-") as tmp:
        for t in parse_targets(args.targets):
            out = Path(tmp) / f"{t}.json"
            cmd = [sys.executable, __file__, "--child", str(out)]
            if args.dump_asm is not None:
                cmd += ["--dump-asm", str(args.dump_asm)]
            env = target_env(t)
            # an empty cache: numba cannot show the assembly of kernels loaded from its disk cache
            env["NUMBA_CACHE_DIR"] = str(Path(tmp) / f"cache-{t}")
            rc = subprocess.call(cmd, env=env)
            if rc != 0:
                print(f"target {t}: compiling the kernels failed (exit {rc})", file=sys.stderr)
                return rc
            results[t] = json.loads(out.read_text())
    _print(results, args.all_loops)
    print(f"\n(host: {next(iter(results.values()))['cpu_model']}; load average {os.getloadavg()[0]:.2f})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
