"""CUDA kernels of one time step (numba-cuda): the GPU twin of the CPU kernels in :mod:`floodsim.kernels`.

Importing this package imports :mod:`numba.cuda`; only :mod:`floodsim.core.cuda_backend` does, and only
for ``[simulation] backend = "cuda"``. Like every kernel, these take device (or host) arrays and scalars
only and import nothing of floodsim.

* :mod:`.step`    boundary fluxes, local-inertial face fluxes, the depth update (rain, infiltration,
  running maxima, Courant speeds), the per-block reductions, maxima folds and sources.
* :mod:`.repair`  the conservative repair of negative depths (the CPU algorithm, run by one thread).
* :mod:`.physics` device functions shared by the kernels (friction, fluxes, Green–Ampt, Horton).

Every kernel uses grid-stride loops, so any launch configuration gives the same result: the device
stepper launches thousands of threads on a GPU and a single thread under numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, where each simulated thread is a Python thread).
"""
