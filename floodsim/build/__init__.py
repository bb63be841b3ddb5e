"""From a validated scenario to a built model: GIS layers read onto the grid, measures built through the
registry, and a ready :class:`~floodsim.core.simulation.Simulation` (nothing is run here).

``model`` (:func:`build_model`, :class:`Model`), ``context`` (layer reading for builders), ``measures``
(terrain measures applied, operators linked), ``storms`` (IDF curves and design storms).
"""
