"""The measures cities build, as floodsim models them: one module per family, one registry.

* :mod:`floodsim.measures.terrain`: measures that change the ground before a run: cloudburst roads
  and channels (lowered strips), rain beds (a hollow with enhanced infiltration), green areas and
  hard-surface limits (infiltration and roughness), buffer-pond bottoms (a lowered floor).
* :mod:`floodsim.measures.storage`: measures that act during a run
  (:class:`floodsim.core.operator.Operator`): pond outlets (orifice/weir), underground tanks with capped
  inlets and pumps, drainage tunnels as linked storages, controlled structures following rules.
* :mod:`floodsim.measures.registry`: type -> schema, builder, phase, colour, stores-surface-water.
"""
