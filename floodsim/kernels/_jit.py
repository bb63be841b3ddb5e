"""The one jit policy for every floodsim kernel, and the code forms chosen for the compile target.

All kernels are compiled lazily (no explicit signatures), cached on disk, release the GIL and use
numpy's floating-point error model (division by zero gives inf/NaN instead of raising, which lets
LLVM vectorise the branch-free arithmetic), and allow one fast-math flag, ``contract``: LLVM may fuse
``a * b + c`` into one fused multiply-add (FMA) instruction, rounded once instead of twice. That
changes results at round-off level only and makes the friction and depth updates about 15 % faster;
no other fast-math assumption is made (no reassociation of sums, NaN and inf are kept), so NaN checks
and the order of every sum stay as written. Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain
Python for debugging and coverage; the package keeps working (slowly).

Code forms per target
---------------------
Two constructs vectorise well only where the CPU has the instructions for them, so the kernels are
written in two forms that give bit-identical results, and the form is chosen once, at import, from
the CPU numba compiles for (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``, else the host):

- :data:`PACKED_INT64_CONVERSION`: the float64 <-> int64 conversions of the cube-root guess
  (:func:`floodsim.kernels.fastmath.rcbrt_guess`) are single packed instructions with AVX-512DQ
  (``vcvtqq2pd``/``vcvttpd2qq``) and on AArch64 NEON (``scvtf``/``fcvtzs``). AVX2 has none: LLVM
  takes every lane out of the vector to a scalar conversion and back (16 conversions and as many
  shuffles per 8 faces). With AVX2 and without AVX-512DQ the kernels use exact integer emulations
  (:func:`~floodsim.kernels.fastmath.i64_to_f64_exact`, :func:`~floodsim.kernels.fastmath.f64_to_i64_trunc`),
  which need AVX2's per-lane shifts. Without AVX2 (SSE only) the face loop is not vectorised at all,
  and one scalar conversion is cheaper than the emulation, so the hardware form stays.
- :data:`MASKED_STORES`: the running maxima are written only where they grow. With AVX-512 (mask
  registers) that is a cheap masked store; AVX2's ``vmaskmovps`` store is slow on AMD Zen 2/3, and
  SSE and NEON have no masked store at all (LLVM then leaves the loop scalar). Without AVX-512 the
  maxima are written with branch-free selects (the same values), which vectorises the loop for SSE2.
  The old values are read through :func:`floodsim.kernels.fastmath.freeze`: LLVM would otherwise
  recognise a select between the new value and the one just loaded, and emit ``vmaskmovps`` stores on
  AVX2 after all (measured with ``benchmarks/inspect_vectorisation.py``).

``FLOODSIM_KERNEL_FORM`` overrides the choice for tests and measurements: ``auto`` (default),
``avx512`` (both constructs as on AVX-512) or ``portable`` (neither). numba's disk cache does not
know about the form, so an override compiles without the cache (it neither reads nor writes it).
"""

from __future__ import annotations

import os

import numba
import numpy as _np

#: True when numba runs kernels as plain Python (``NUMBA_DISABLE_JIT=1``).
JIT_DISABLED: bool = bool(numba.config.DISABLE_JIT)

_FORMS = ("auto", "avx512", "portable")
_X86 = ("x86_64", "amd64", "i386", "i686")


def _form_override() -> str:
    form = os.environ.get("FLOODSIM_KERNEL_FORM", "auto").strip().lower() or "auto"
    if form not in _FORMS:
        raise ValueError(f"FLOODSIM_KERNEL_FORM={form!r}: use one of {', '.join(_FORMS)} (or leave it unset)")
    return form


def compile_target() -> dict:
    """The CPU numba compiles for: ``{"triple", "cpu", "features"}``.

    ``features`` is the LLVM feature string numba passes (``+avx2,-avx512f,...``), or ``""`` when
    ``NUMBA_CPU_NAME`` is set with an empty ``NUMBA_CPU_FEATURES``: then LLVM uses that CPU's own
    features (``NUMBA_CPU_NAME=haswell`` alone keeps the *host's* features, AVX-512 included).
    """
    import llvmlite.binding as ll

    cpu = numba.config.CPU_NAME or ll.get_host_cpu_name()
    features = numba.config.CPU_FEATURES
    if features is None:
        features = ll.get_host_cpu_features().flatten()
    return {"triple": ll.get_process_triple(), "cpu": cpu, "features": features}


def _has_features(target: dict, names: tuple[str, ...]) -> bool:
    """Whether an x86 target has every feature of ``names`` (e.g. ``("avx512f",)``)."""
    if target["features"]:
        enabled = {f[1:] for f in target["features"].split(",") if f.startswith("+")}
        return all(n in enabled for n in names)
    return all(n in _cpu_default_features(target["cpu"]) for n in names)


def _cpu_default_features(cpu: str) -> set[str]:
    """Which of AVX2, AVX-512F and AVX-512DQ LLVM gives a named x86 CPU by default, found by compiling
    a probe.

    LLVM has no API for a CPU's feature list, so a few packed operations that only these extensions
    have (per-lane shifts, masked stores, int64 -> float64 conversion) are compiled for ``cpu`` and
    the instructions it emits are read back.
    """
    import llvmlite.binding as ll

    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    module = ll.parse_assembly("""
        define void @probe(<8 x i64>* %p, <8 x double>* %q, <8 x float>* %r, <8 x i1> %m) {
          %a = load <8 x i64>, <8 x i64>* %p
          %b = sitofp <8 x i64> %a to <8 x double>
          store <8 x double> %b, <8 x double>* %q
          %c = fptrunc <8 x double> %b to <8 x float>
          call void @llvm.masked.store.v8f32.p0v8f32(<8 x float> %c, <8 x float>* %r, i32 4, <8 x i1> %m)
          %s = shl <8 x i64> %a, %a
          store <8 x i64> %s, <8 x i64>* %p
          ret void
        }
        declare void @llvm.masked.store.v8f32.p0v8f32(<8 x float>, <8 x float>*, i32, <8 x i1>)
    """.replace("<8 x i64>*", "ptr").replace("<8 x double>*", "ptr").replace("<8 x float>*", "ptr")
       .replace(".p0v8f32", ".p0"))
    tm = ll.Target.from_default_triple().create_target_machine(cpu=cpu, features="", opt=2)
    asm = tm.emit_assembly(module)
    found = set()
    if "vcvtqq2pd" in asm:
        found.add("avx512dq")
    if "{%k" in asm:
        found.add("avx512f")
    if "vpsllvq" in asm:
        found.add("avx2")
    return found


def forms_for(target: dict) -> tuple[bool, bool]:
    """(packed int64 conversions, masked stores) for a :func:`compile_target`-like ``target``."""
    if not target["triple"].startswith(_X86):
        return True, False  # AArch64 NEON / POWER VSX: packed conversions, no masked stores
    packed = _has_features(target, ("avx512dq",)) or not _has_features(target, ("avx2",))
    return packed, _has_features(target, ("avx512f",))


def _choose_forms() -> tuple[bool, bool]:
    form = _form_override()
    if form != "auto":
        return form == "avx512", form == "avx512"
    if JIT_DISABLED:
        return True, True
    return forms_for(compile_target())


#: The cube-root guess uses the hardware float64 <-> int64 conversions (AVX-512DQ, NEON, and SSE-only
#: targets, whose face loop is scalar anyway); False: the exact emulation (AVX2). See the module docstring.
#: Running maxima written with masked stores (AVX-512); else branch-free selects.
PACKED_INT64_CONVERSION, MASKED_STORES = _choose_forms()

#: The form in use, as ``FLOODSIM_KERNEL_FORM`` spells it, for benchmark records.
KERNEL_FORM: str = ("avx512" if PACKED_INT64_CONVERSION and MASKED_STORES
                    else "portable" if not (PACKED_INT64_CONVERSION or MASKED_STORES)
                    else f"conversion={'packed' if PACKED_INT64_CONVERSION else 'emulated'},"
                         f"maxima={'masked' if MASKED_STORES else 'select'}")

def _drop_stale_caches() -> None:
    """Delete numba's cached machine code of floodsim's kernels when any kernel source changed.

    numba keys a cached function on its *own* file's time stamp only, not on the files of the functions
    it inlines: after an edit of ``continuity.py``, the kernels of ``fused.py`` (which inline its row
    update) would still load their old machine code, silently. So every cache folder numba may use for
    these files (next to the sources, ``NUMBA_CACHE_DIR``, the per-user cache) carries a digest of all
    kernel sources, and its floodsim entries are deleted when the digest differs. A folder that cannot be
    written is left alone (numba then cannot write it either).
    """
    import hashlib
    from pathlib import Path

    from numba.core.caching import CacheImpl

    root = Path(__file__).resolve().parent
    sources = sorted(root.rglob("*.py"))
    digest = hashlib.sha256()
    for f in sources:
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    stamp_text = digest.hexdigest()

    def probe():   # a function to ask numba's cache locators with
        pass

    folders = set()
    for f in sources:
        for locator in CacheImpl._locator_classes:
            try:
                found = locator.from_function(probe, str(f))
            except Exception:  # noqa: BLE001 - a locator that does not apply
                found = None
            if found is not None:
                folders.add((Path(found.get_cache_path()), f.stem))
    stems: dict[Path, set[str]] = {}
    for folder, stem in folders:
        stems.setdefault(folder, set()).add(stem)
    for folder, names in stems.items():
        stamp = folder / "floodsim-kernel-sources.sha256"
        try:
            if not folder.is_dir() or (stamp.is_file() and stamp.read_text() == stamp_text):
                continue
            for entry in folder.iterdir():
                if entry.suffix in (".nbi", ".nbc") and entry.name.split(".", 1)[0] in names:
                    entry.unlink()
            stamp.write_text(stamp_text)
        except OSError:
            continue


if _form_override() == "auto" and not JIT_DISABLED:
    _drop_stale_caches()

_OPTIONS = dict(cache=_form_override() == "auto", nogil=True, error_model="numpy", fastmath={"contract"})

#: Decorator for serial kernels and scalar helpers.
kernel = numba.njit(**_OPTIONS)

#: Decorator for the per-face helpers of the flux loop. With the emulated conversions the friction
#: term outgrows LLVM's inlining threshold, and a loop that calls a function does not vectorise;
#: numba then inlines these helpers itself (``inline="always"``, in its own IR). With the packed
#: conversions LLVM inlines them anyway and they are plain kernels, as before.
face_kernel = kernel if PACKED_INT64_CONVERSION else numba.njit(inline="always", **_OPTIONS)

#: Decorator for a plain sum that must vectorise: LLVM vectorises a floating-point sum only when it may
#: reorder the additions (fast-math ``reassoc``). Only for sums whose last bits do not matter.
sum_kernel = numba.njit(**{**_OPTIONS, "fastmath": {"contract", "reassoc"}})

#: Decorator for kernels whose outer loop is a ``numba.prange`` over independent bands of rows.
parallel_kernel = numba.njit(parallel=True, **_OPTIONS)

prange = numba.prange

#: Slots of per-thread scratch (the first axis of the band kernels' scratch rows): the most threads a
#: parallel kernel can run on. numba can lower the thread count at run time (``set_num_threads``),
#: never raise it.
THREAD_SLOTS = max(1, int(numba.config.NUMBA_NUM_THREADS))

#: The slot of the thread running a ``prange`` body, for per-thread scratch: 0 .. threads - 1 (0 in
#: serial code and from the interpreter). A thread runs one band at a time, so scratch rows taken by
#: slot are the thread's alone for the band, and the scratch costs a few rows per thread, not per band.
thread_slot = numba.get_thread_id

#: Widening of an array element to float64 inside kernels (``wide(h[i, j])``). State arrays are float64
#: or float32 (``[simulation] precision``); every kernel computes in float64 either way: numba, like
#: numpy, keeps ``float32 + float32`` in float32, so each load of a state array that enters arithmetic is
#: widened first. For float64 arrays it is the identity (same bits, same machine code).
wide = _np.float64


def is_single(a) -> bool:
    """Whether array ``a`` stores float32 (``[simulation] precision = "single"``). Inside kernels it is a
    compile-time constant (numba compiles one version per dtype), so a branch on it costs nothing."""
    return a.dtype == _np.float32


def real(x, like):
    """``x`` as the floating-point type of ``like`` (a float scalar or an array): float32 for single
    precision, else float64. Kernels that compute in the state's precision write every literal and
    scalar argument through it (``real(0.5, q)``): numba, like numpy, would otherwise promote
    ``float32 * 0.5`` to float64. For float64 it is the identity (same bits, no instruction)."""
    dtype = like.dtype if hasattr(like, "dtype") else type(like)
    return _np.float32(x) if _np.dtype(dtype) == _np.float32 else float(x)


if not JIT_DISABLED:
    from numba.core import types as _types
    from numba.extending import overload as _overload

    @_overload(is_single)
    def _is_single_jit(a):
        single = isinstance(a, _types.Array) and a.dtype == _types.float32
        return lambda a: single

    @_overload(real)
    def _real_jit(x, like):
        t = like.dtype if isinstance(like, _types.Array) else like
        if t == _types.float32:
            return lambda x, like: _np.float32(x)
        return lambda x, like: _np.float64(x)

__all__ = ["JIT_DISABLED", "KERNEL_FORM", "MASKED_STORES", "PACKED_INT64_CONVERSION", "THREAD_SLOTS",
           "compile_target", "face_kernel", "forms_for", "is_single", "kernel", "parallel_kernel", "prange",
           "real", "sum_kernel", "thread_slot", "wide"]
