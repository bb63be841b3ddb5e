"""What a measure's builder may use: the grid and the reading of vector layers onto it.

Builders (:mod:`floodsim.measures.base`) never open files themselves; they ask the
:class:`BuildContext`, which reads, reprojects and checks layers with :mod:`floodsim.io.vector` and
remembers each measure's own features (for the ``measures`` layer of ``flood.gpkg``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from ..core.grid import Grid
from ..errors import InputDataError
from ..io import vector


@dataclass
class BuildContext:
    """Reads layers for builders.

    Parameters
    ----------
    grid : Grid
        The model grid; layers are reprojected to its CRS and rasterised on it.
    initial_saturation : float
        The scenario's initial soil saturation [-] (default of measures that change the soil).
    """

    grid: Grid
    initial_saturation: float = 0.3
    #: measure name -> its own features (GeoDataFrame in the grid CRS), filled by ``features(main=True)``
    main_layers: dict = field(default_factory=dict)
    #: name of the measure being built (set by :mod:`floodsim.build.measures`)
    current: str | None = None

    def layer(self, ref, what: str, required=(), id_field=None):
        """The features of layer ``ref`` (``path``, ``layer``), reprojected to the grid and checked."""
        return vector.read_layer(ref.path, ref.layer, self.grid, required=tuple(required), id_field=id_field,
                                 what=what)

    @staticmethod
    def select(gdf, names, name_field: str, what: str):
        """The features whose ``name_field`` is one of ``names`` (all when ``names`` is None)."""
        return vector.select_features(gdf, names, name_field, what)

    def features(self, ref, what: str, required=(), main: bool = False):
        """``[(feature name, row, cell mask)]`` of the selected features of ``ref`` and the layer's label.

        Each feature must cover at least one cell. With ``main``, the features are remembered as the
        current measure's own layer.
        """
        label = f"{ref.path.name}" + (f" layer '{ref.layer}'" if ref.layer else "")
        gdf = self.layer(ref, what, required=required, id_field=ref.name_field)
        gdf = self.select(gdf, ref.features, ref.name_field, f"{label} ({what})")
        names = ([str(v) for v in gdf[ref.name_field]] if ref.name_field in gdf.columns
                 else [f"feature {k}" for k in range(len(gdf))])
        out = []
        for k in range(len(gdf)):
            mask = vector.rasterize_geometries([gdf.geometry.iloc[k]], self.grid)
            if not mask.any():
                raise InputDataError(f"{label} ({what}): feature {ref.name_field}={names[k]!r} covers no cell of "
                                     "the DEM; move it inside the model.")
            out.append((names[k], gdf.iloc[k], mask))
        if main and self.current is not None:
            self.main_layers[self.current] = gpd.GeoDataFrame([row for _, row, _ in out], geometry="geometry",
                                                              crs=self.grid.crs)
        return out, label
