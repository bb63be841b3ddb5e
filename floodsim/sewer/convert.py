"""Convert a sewer network between its two forms: ``python -m floodsim.sewer.convert SRC DST``.

``SRC`` and ``DST`` are a SWMM ``.inp`` and a GeoPackage (``.gpkg``), either way round; the form is
taken from the file name's ending. An ``.inp`` is checked by SWMM itself before it is read; its
coordinates have no CRS, so give one with ``--crs`` (the DEM's, e.g. ``EPSG:28356``) when writing
layers. Inlets: the layers' ``inlet`` attributes carry over to nothing in an ``.inp`` (a scenario says
which nodes of an ``.inp`` are inlets, ``[sewer] inlets``); from an ``.inp``, ``--inlets all`` marks every
junction and storage unit as an inlet with the default grate (0.1 m², 1.2 m). Exit codes as the
``floodsim`` commands: 0 done, 2 bad input (the message names the file and the fix).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ExitCode, FloodsimError, exit_code_of
from .network import Inlet, inlets_for, read_inp, read_layers


def convert(src, dst, crs: str | None = None, inlets: str = "none") -> Path:
    """Read ``src`` (.inp or .gpkg) and write ``dst`` in the other form; return ``dst``."""
    from ..errors import InputDataError

    src, dst = Path(src), Path(dst)
    kinds = {".inp": "inp", ".gpkg": "gpkg"}
    a, b = kinds.get(src.suffix.lower()), kinds.get(dst.suffix.lower())
    if a is None or b is None or a == b:
        raise InputDataError(f"convert {src} → {dst}: give one .inp and one .gpkg (the form comes from the "
                             "file name's ending).")
    if dst.exists():
        raise InputDataError(f"{dst}: exists; give a new file name (nothing is overwritten).")
    if a == "inp":
        net = read_inp(src, crs=crs)
        if inlets == "all":
            net.inlets = inlets_for(net, "all", Inlet())
        if net.crs is None:
            raise InputDataError(f"{src}: an .inp has no CRS; give the DEM's with --crs (e.g. EPSG:28356).")
        return net.write_layers(dst)
    net = read_layers(src)
    return net.write_inp(dst)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m floodsim.sewer.convert", description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--crs", help="CRS of an .inp's coordinates (the DEM's), for the layers")
    ap.add_argument("--inlets", choices=("none", "all"), default="none",
                    help="from an .inp: mark every junction and storage unit as an inlet")
    args = ap.parse_args(argv)
    try:
        out = convert(args.src, args.dst, args.crs, args.inlets)
    except FloodsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exit_code_of(exc))
    print(f"wrote {out}")
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
