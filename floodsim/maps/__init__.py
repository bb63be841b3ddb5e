"""Maps of finished runs: Folium web maps for planners and residents, offline publishing, PNG figures.

Presentation only: the maps read run folders (:func:`floodsim.maps.rundata.map_run`, over the one loader
:func:`floodsim.io.runfolder.load_run`) and draw what the run and its products computed. Test harnesses
(headless Chromium) live in ``tests/support/``; fetching the npm assets is ``floodsim map-assets``.
Text from a run folder (names, ids, attributes) is shown, never interpreted: it reaches a page only
through :mod:`floodsim.maps.safe`.

=====================  ===================================================================================
module                 what it does
=====================  ===================================================================================
``rundata``            run folder → :class:`~floodsim.io.runfolder.Run` with hazard classes for the layers
``rasters``            hillshade; reprojection to web mercator; class colouring; PNG data URIs
``layers``             folium layers: hillshade, depth, hazard, buildings, measures, depth time slider
``planner``            the planner map (one run, or a synchronised before/after pair)
``resident``           the resident risk map (plain-language legend, building search, all scenarios)
``assets``             the npm releases behind folium's CDN files; fetch them; localise a page (offline)
``publish``            write a page atomically, optionally self-contained (``--offline``)
``safe``               the one path for text from data: ``html_text`` (HTML, Jinja-inert), ``js_json``
``figures``            matplotlib PNG figures for reports
=====================  ===================================================================================

Example
-------
>>> from floodsim.maps import map_run, planner_map, write_map       # doctest: +SKIP
>>> write_map(planner_map([map_run("outputs/base")]), "map.html")   # doctest: +SKIP
"""

from .figures import write_figures
from .planner import planner_map
from .publish import write_map
from .resident import resident_map
from .rundata import map_run

__all__ = ["map_run", "planner_map", "resident_map", "write_figures", "write_map"]
