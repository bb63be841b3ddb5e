"""Infiltration models and their parameters, per cell or per soil/land-cover class.

Green–Ampt soil parameters by texture from Rawls, Brakensiek & Miller (1983), "Green-Ampt
infiltration parameters from soils data", J. Hydraul. Eng. 109(1), 62-70, Table 4 (also Chow,
Maidment & Mays 1988, Table 4.3.1): saturated hydraulic conductivity Ks, wetting-front suction head
psi and effective porosity theta_e. The moisture deficit is ``theta_e * (1 - initial saturation)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import units
from ..errors import InputDataError
from ..kernels.hydrology import GREEN_AMPT, HORTON

#: texture: (Ks [cm/h], psi [cm], theta_e [-]) — Rawls et al. (1983)
RAWLS_1983 = {
    "sand": (11.78, 4.95, 0.417),
    "loamy sand": (2.99, 6.13, 0.401),
    "sandy loam": (1.09, 11.01, 0.412),
    "loam": (0.34, 8.89, 0.434),
    "silt loam": (0.65, 16.68, 0.486),
    "sandy clay loam": (0.15, 21.85, 0.330),
    "clay loam": (0.10, 20.88, 0.309),
    "silty clay loam": (0.10, 27.30, 0.432),
    "sandy clay": (0.06, 23.90, 0.321),
    "silty clay": (0.05, 29.22, 0.423),
    "clay": (0.03, 31.63, 0.385),
}


def _field(value, shape, name):
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.shape != shape:
        raise InputDataError(f"infiltration parameter {name}: raster shape {a.shape} does not match the "
                             f"grid {shape}; resample it to the DEM first.")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InputDataError(f"infiltration parameter {name}: values must be finite and >= 0.")
    return np.ascontiguousarray(a)


@dataclass(frozen=True, eq=False)
class GreenAmpt:
    """Green–Ampt infiltration. Scalars apply everywhere; arrays are per cell (grid shape).

    Parameters
    ----------
    ks : float or array
        Saturated hydraulic conductivity [m/s]. Zero means impervious.
    psi : float or array
        Wetting-front suction head [m].
    dtheta : float or array
        Soil moisture deficit [-] (effective porosity minus initial water content).
    """

    ks: object
    psi: object
    dtheta: object

    @classmethod
    def from_texture(cls, texture: str, initial_saturation: float = 0.3) -> "GreenAmpt":
        """Parameters of a USDA soil texture class (Rawls et al. 1983)."""
        try:
            ks_cm_h, psi_cm, theta_e = RAWLS_1983[texture.lower()]
        except KeyError:
            raise InputDataError(f"unknown soil texture {texture!r}; choose one of "
                                 f"{', '.join(RAWLS_1983)}.") from None
        if not 0 <= initial_saturation < 1:
            raise InputDataError("initial_saturation must be in [0, 1).")
        return cls(ks=units.mm_h_to_m_s(10.0 * ks_cm_h), psi=psi_cm / 100.0,
                   dtheta=theta_e * (1.0 - initial_saturation))

    def kernel_arrays(self, shape):
        """(model code, p1, p2, p3) for :func:`floodsim.kernels.continuity.update_depth`."""
        ks = _field(self.ks, shape, "ks")
        psi_dtheta = _field(np.asarray(self.psi, dtype=np.float64) * np.asarray(self.dtheta, dtype=np.float64),
                            shape, "psi*dtheta")
        if ks.shape != psi_dtheta.shape:
            ks = np.ascontiguousarray(np.broadcast_to(ks, shape))
            psi_dtheta = np.ascontiguousarray(np.broadcast_to(psi_dtheta, shape))
        return GREEN_AMPT, ks, psi_dtheta, np.zeros_like(ks)


@dataclass(frozen=True, eq=False)
class Horton:
    """Horton infiltration ``f = fc + (f0 - fc) exp(-k t)``.

    Parameters
    ----------
    f0, fc : float or array
        Initial and final (saturated) capacity [m/s].
    k : float or array
        Decay constant [1/s].
    """

    f0: object
    fc: object
    k: object

    def kernel_arrays(self, shape):
        arrays = [_field(v, shape, n) for v, n in ((self.f0, "f0"), (self.fc, "fc"), (self.k, "k"))]
        if len({a.shape for a in arrays}) > 1:
            arrays = [np.ascontiguousarray(np.broadcast_to(a, shape)) for a in arrays]
        if np.any(arrays[1] > arrays[0]):
            raise InputDataError("Horton infiltration: the final capacity fc must not exceed f0.")
        return (HORTON, *arrays)


def with_impervious(arrays, impervious: np.ndarray | None, shape):
    """Set the capacity parameter to zero on impervious cells (returns new arrays)."""
    model, p1, p2, p3 = arrays
    if impervious is None or not np.any(impervious):
        return arrays
    p1 = np.array(np.broadcast_to(p1, shape), dtype=np.float64)
    p1[impervious] = 0.0
    full = lambda p: np.ascontiguousarray(np.broadcast_to(p, shape))  # noqa: E731
    return model, p1, full(p2), full(p3)
