"""Dual drainage: a sewer network under the streets, run by the SWMM 5 engine and coupled to the surface.

* :mod:`floodsim.sewer.network` — the network in its two forms (a SWMM ``.inp`` file, read and written
  with swmm-api; GeoPackage layers with documented attribute names), conversion between them, and the
  checks against the DEM;
* :mod:`floodsim.sewer.engine` — one running SWMM 5.2 model (swmm-toolkit, the engine pyswmm wraps):
  the working ``.inp``, lateral inflows, stepping, results and SWMM's own continuity report;
* :mod:`floodsim.sewer.coupling` — :class:`~floodsim.sewer.coupling.SewerCoupling`, the
  :class:`~floodsim.core.operator.Operator` that exchanges water between surface cells and manholes
  (weir and orifice laws, surcharge back onto the surface) and steps SWMM with the 2-D time;
* :mod:`floodsim.sewer.results` — the node/link series for ``results.nc`` and the network layers of
  ``flood.gpkg``.

Only one SWMM model can run in a process at a time (the engine keeps global state); a second one is
refused with a clear error.
"""

from __future__ import annotations
