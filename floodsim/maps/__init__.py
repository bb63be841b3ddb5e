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
``sitedata``           what a page is built from: :class:`~floodsim.maps.sitedata.Site` (runs, texts,
                       comparison, likelihood, addresses, base map, downloads) and ``RasterLayer``
``site``               ``floodsim publish``: inputs checked, the Site built, the site folder written whole
``tiles``              raster tile pyramids (XYZ PNG, web mercator) of a published site
``about``              the "About this map" texts panel, the print view, the one-page address reports
``rasterproducts``     raster keys → values and paint (one home for embedded pages and tiles)
``rasters``            hillshade; reprojection to web mercator; class colouring; PNG data URIs
``layers``             the planner's vector layers (buildings, hatched measures, gauges, changed buildings,
                       the sewer network) and its legend bodies
``controls``           legends that follow their layers, the time slider, the swipe, the changed-buildings list
``planner``            the planner page (layers, one-map comparison, time slider)
``resident``           the resident page (plain-language legends, address search, likelihood, cards)
``basemap``            the base map: online streets with a fallback, local tiles, vector base with labels
``search``             the address search: index, tolerant matcher (Python and the page's script), search box
``cards``              a building's card (depth, danger, likelihood, advice) and its report's name
``pagestyle``          lang, title, viewport, phone/print CSS of every page
``assets``             the npm releases behind folium's CDN files; fetch them; localise a page (offline)
``publish``            write one page atomically, optionally self-contained (``floodsim map --offline``)
``safe``               the one path for text from data: ``html_text`` (HTML, Jinja-inert), ``js_json``
``figures``            matplotlib PNG figures for reports
=====================  ===================================================================================

Example
-------
>>> from floodsim.maps import map_run, planner_map, write_map       # doctest: +SKIP
>>> write_map(planner_map([map_run("outputs/base")]), "map.html")   # doctest: +SKIP
>>> from floodsim.maps.site import spec_from_runs, write_site         # doctest: +SKIP
>>> write_site(spec_from_runs(["outputs/base", "outputs/pond"]), out="site/demo")   # doctest: +SKIP
"""

from .figures import write_figures
from .planner import planner_map
from .publish import write_map
from .resident import resident_map
from .rundata import map_run

__all__ = ["map_run", "planner_map", "resident_map", "write_figures", "write_map"]
