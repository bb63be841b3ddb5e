"""What a run means: UK hazard rating, building exposure, depth classes, depth-damage and expected annual
damage, the run products (rasters, layers, summary numbers), what measures changed against the baseline,
and comparisons of finished runs. Reads results and run folders, never the engine's internals.
"""
