"""Reading and writing GIS data: rasters (rasterio/rioxarray) and vector layers (GeoPandas)."""
