"""What a page is built from: the :class:`Site` (runs, texts, comparison, likelihood, addresses, base map)
and :class:`RasterLayer`, a raster either embedded in the page or served as a tile pyramid.

The page builders (:mod:`floodsim.maps.planner`, :mod:`floodsim.maps.resident`) take a :class:`Site` and
ask it for rasters by key (:meth:`Site.raster`). Who makes the raster is the site's ``raster_source``:

* :func:`embedded_source` (``floodsim map``: one self-contained HTML page) paints the raster, warps it to
  web mercator and embeds it as a PNG data URI;
* :func:`floodsim.maps.tiles.tile_source` (``floodsim publish``) writes an XYZ tile pyramid into the site
  folder on first use and returns its URL template, so page weight does not grow with the area.

Only rasters a page asks for are made ("bundle only what a page uses").

Raster keys (:data:`RASTER_KEYS`) name a product of one run (``run`` index) or of the site:

==================  ============================================================================
``hillshade``       the terrain, grey (base layer)
``max_depth``       maximum depth by class (:func:`floodsim.maps.style.depth_colours`)
``hazard``          hazard class of the maxima (UK FD2321)
``max_speed``       maximum speed by class
``arrival_time``    time until water first reaches the flood threshold, by class
``depth@K``         depth at output time index K (time-slider frames)
``depth_diff``      B − A maximum depth (site: from the comparison; diverging classes)
``likelihood``      likelihood band (site: from the sweep's ``likelihood_<design>.tif``)
==================  ============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import folium
from folium.template import Template

from ..io.runfolder import Run
from ..scenario.site import PublishTexts
from .safe import html_text, js_json

#: Decimal places of the longitudes/latitudes put in a page (1e-6° ≈ 0.1 m: finer than any grid cell).
COORD_DECIMALS = 6

#: Jinja fragment of a GeoJSON layer's template: feeds ``this.data_js`` (an inline FeatureCollection, or
#: the URL of a site file the page fetches) to the template's ``<name>_add(fc)`` (which returns the layer)
#: and defines ``<name>_ready``, the promise of the filled layer. The inline data stands on its own line
#: as ``<name>_add({...});``.
GEOJSON_SOURCE_JS = """
        {% if this.inline %}
        {{ this.get_name() }}_add({{ this.data_js }});
        var {{ this.get_name() }}_ready = Promise.resolve({{ this.get_name() }});
        {% else %}
        var {{ this.get_name() }}_ready = fetch({{ this.data_js }}).then(function (r) {
            if (!r.ok) { throw new Error({{ this.data_js }} + ": HTTP " + r.status); }
            return r.json();
        }).then({{ this.get_name() }}_add);
        {% endif %}
"""


def page_geometry(geom) -> dict:
    """GeoJSON of a shapely geometry (EPSG:4326) with coordinates rounded to :data:`COORD_DECIMALS`
    (page weight: about 40 % fewer bytes than full float precision)."""
    import numpy as np
    import shapely
    from shapely.geometry import mapping

    return mapping(shapely.transform(geom, lambda xy: np.round(xy, COORD_DECIMALS)))


#: Raster keys of one run (see the module docstring); ``depth@K`` adds time frames.
RUN_RASTERS = ("hillshade", "max_depth", "hazard", "max_speed", "arrival_time")
#: Raster keys of the site as a whole.
SITE_RASTERS = ("depth_diff", "likelihood")


@dataclass
class RasterLayer:
    """A raster on a page: an embedded PNG (``image_uri``) or an XYZ tile pyramid (``tile_url``).

    ``bounds`` are the lat/lon corners ``[[south, west], [north, east]]``; ``min_zoom`` and
    ``max_native_zoom`` are the shallowest and deepest zoom levels with tiles (Leaflet scales them down
    below and up beyond). ``tile_index`` says which tiles exist (only non-empty tiles are written):
    zoom (str) -> ``[x0, y0, nx, ny, bits]``, ``bits`` the base64 of a little-endian bit set over the
    ``nx × ny`` tiles from ``(x0, y0)``, row by row; the page asks only for tiles that exist, so an empty
    tile is never a failed request.
    """

    key: str
    bounds: list[list[float]]
    image_uri: str | None = None
    tile_url: str | None = None
    min_zoom: int = 0
    max_native_zoom: int = 19
    tile_index: dict | None = None

    def folium_layer(self, name: str, show: bool = True, opacity: float = 0.8, zindex: int = 3,
                     overlay: bool = True):
        """A folium layer of this raster (``name`` is plain text; escaped here)."""
        if self.tile_url is not None:
            return IndexedTileLayer(
                tiles=self.tile_url, index=self.tile_index, attr="floodsim", name=html_text(name),
                # min_zoom = the coarsest level: below it Leaflet would loop over 4^k times the tiles
                # of the view (minNativeZoom above the map zoom; the page hung at folium's zoom 1)
                overlay=overlay, show=show, opacity=opacity, min_zoom=self.min_zoom, max_zoom=22,
                max_native_zoom=self.max_native_zoom, min_native_zoom=self.min_zoom,
                bounds=self.bounds, z_index=zindex, control=True,
            )
        return folium.raster_layers.ImageOverlay(
            self.image_uri, bounds=self.bounds, name=html_text(name), opacity=opacity, show=show,
            zindex=zindex, overlay=overlay, control=True,
        )


#: The Leaflet tile layer that asks only for the tiles its index lists (defined once per page).
_INDEXED_TILES_JS = """
if (!L.FloodsimTiles) {
  L.FloodsimTiles = L.TileLayer.extend({
    initialize: function (url, options, index) {
      this._fsIndex = index ? {} : null;
      for (var z in (index || {})) {
        var v = index[z];
        this._fsIndex[z] = {x0: v[0], y0: v[1], nx: v[2], ny: v[3], bits: atob(v[4])};
      }
      L.TileLayer.prototype.initialize.call(this, url, options);
    },
    hasTile: function (c) {
      if (!this._fsIndex) { return true; }
      var lv = this._fsIndex[c.z];
      if (!lv) { return false; }
      var i = c.x - lv.x0, j = c.y - lv.y0;
      if (i < 0 || j < 0 || i >= lv.nx || j >= lv.ny) { return false; }
      var k = j * lv.nx + i;
      return ((lv.bits.charCodeAt(k >> 3) >> (k & 7)) & 1) === 1;
    },
    createTile: function (coords, done) {
      if (this.hasTile(coords)) { return L.TileLayer.prototype.createTile.call(this, coords, done); }
      var tile = document.createElement("div");
      L.Util.requestAnimFrame(L.Util.bind(done, this, null, tile));
      return tile;
    }
  });
}
"""


class IndexedTileLayer(folium.TileLayer):
    """A :class:`folium.TileLayer` of a site's tile pyramid that requests only the tiles in ``index``
    (see :class:`RasterLayer`; ``None``: every tile in the bounds); the URL and the index go to the
    page through :func:`js_json`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.helper_js }}
            var {{ this.get_name() }} = new L.FloodsimTiles(
                {{ this.tiles_js }},
                {{ this.options|tojavascript }},
                {{ this.index_js }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, tiles: str, index: dict | None = None, **kwargs):
        super().__init__(tiles=tiles, **kwargs)
        self._name = "IndexedTileLayer"
        self.helper_js = _INDEXED_TILES_JS
        self.tiles_js = js_json(tiles)
        self.index_js = js_json(index)


@dataclass
class Download:
    """A file offered for download on the pages (``href`` relative to the site root; ``size_bytes``
    its size, shown beside the link)."""

    label: str
    href: str
    description: str = ""
    size_bytes: int | None = None


@dataclass
class Comparison:
    """Scenario B against A (``runs[index_b]`` against ``runs[index_a]``): ``changed_buildings`` is the
    compare folder's layer (in the runs' CRS; column ``change``: ``made dry``, ``newly flooded`` …)."""

    index_a: int
    index_b: int
    depth_diff: object = None          # xarray.DataArray, B − A [m] on the runs' grid, NaN outside
    changed_buildings: object = None   # geopandas.GeoDataFrame or None


@dataclass
class Likelihood:
    """Likelihood products of a sweep design (:mod:`floodsim.sweep.risk`)."""

    design: str
    bands: object = None                # xarray.DataArray of int band codes (analysis.risk.BANDS), -1 nodata
    buildings: object = None            # GeoDataFrame: first_flooding_yr, first_flooding, ead_eur_per_yr
    return_periods_yr: list = field(default_factory=list)
    storms: dict = field(default_factory=dict)   # member/return period -> storm in words


@dataclass
class BaseMap:
    """The base layers: online streets, a user's local XYZ tiles, vector layers from the project."""

    online: bool = True
    local_tiles_url: str | None = None         # e.g. "basemap/{z}/{x}/{y}.png" inside the site
    local_tiles_zoom: tuple[int, int] = (0, 19)
    vector: dict = field(default_factory=dict)  # "roads"/"water"/"buildings" -> (GeoDataFrame, name_field)
    #: which local tiles exist (the :class:`RasterLayer` ``tile_index`` format); None: unknown
    local_tiles_index: dict | None = None
    local_tiles_bounds: list | None = None      # [[south, west], [north, east]] of the local tiles

    def local_layer(self, name: str = "Base map (local tiles)", show: bool = True, root: str = ""):
        """The user's local XYZ tiles as a folium base layer that requests only existing tiles (None
        without local tiles). ``name`` is plain text (escaped here)."""
        if self.local_tiles_url is None:
            return None
        kw = {"bounds": self.local_tiles_bounds} if self.local_tiles_bounds else {}
        return IndexedTileLayer(
            tiles=root + self.local_tiles_url, index=self.local_tiles_index, attr="local base map",
            name=html_text(name), overlay=False, show=show, min_zoom=self.local_tiles_zoom[0], max_zoom=22,
            min_native_zoom=self.local_tiles_zoom[0], max_native_zoom=self.local_tiles_zoom[1], **kw)


@dataclass
class Site:
    """Everything a page shows. ``runs[0]`` is the reference scenario; ``labels`` are their names on
    the pages (plain text). ``texts`` has every default filled in."""

    runs: list[Run]
    labels: list[str]
    texts: PublishTexts
    raster_source: Callable[["Site", int | None, str], RasterLayer | None]
    comparison: Comparison | None = None
    likelihood: Likelihood | None = None
    addresses: object = None          # GeoDataFrame with column "address", in the runs' CRS
    base: BaseMap = field(default_factory=BaseMap)
    downloads: list[Download] = field(default_factory=list)
    offline: bool = False
    #: relative link from a page to the site root ("" for pages at the root)
    root: str = ""
    #: True for one self-contained page (``floodsim map``): attached files become data URIs
    embed: bool = True
    #: files the pages reference (site-relative path -> bytes), written by the site writer
    files: dict = field(default_factory=dict)
    #: the folder the site is being written into (its staging folder): tile pyramids go there
    folder: Path | None = None
    #: per tile pyramid (site-relative folder): {"tiles": count, "bytes": size, "zoom": [min, max]}
    tile_stats: dict = field(default_factory=dict)
    #: one-page reports (:class:`floodsim.maps.about.ReportEntry`), by address or building
    reports: list = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    def attach(self, relpath: str, data: bytes, mime: str = "image/png") -> str:
        """Make ``data`` available to a page: a data URI when ``embed``, else a file of the site at
        ``relpath`` (written by the site writer); returns the URL to put in the page."""
        if self.embed:
            import base64

            return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        self.files[relpath] = data
        return self.root + relpath

    def raster(self, run: int | None, key: str) -> RasterLayer | None:
        """The raster ``key`` of ``runs[run]`` (``run=None`` for a site raster), made once."""
        k = (run, key)
        if k not in self._cache:
            self._cache[k] = self.raster_source(self, run, key)
        return self._cache[k]


def embedded_source(site: Site, run: int | None, key: str) -> RasterLayer | None:
    """Make ``key`` as an embedded PNG (see the module docstring). None when the run lacks the data."""
    from .rasterproducts import raster_values, paint
    from .rasters import png_data_uri, to_web_mercator

    got = raster_values(site, run, key)
    if got is None:
        return None
    values, transform, crs, resampling = got
    img, bounds = to_web_mercator(values, transform, crs, resampling)
    return RasterLayer(key=key, bounds=bounds, image_uri=png_data_uri(paint(site, run, key, img)))
