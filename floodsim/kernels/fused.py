"""One fused sweep per step: fluxes and depth update band by band, while the rows are in cache.

Within a band, row ``i``'s depth can be updated as soon as its south face is known: no later flux of
the band reads ``h[i]`` (row ``i+1``'s faces need rows ``i+1`` and ``i+2`` only). The first row of a
band needs its north face, which the band above computes, so it is left to :func:`finish_bands`,
together with the bands that were not swept (dry, or only receiving rain). Boundary fluxes must be in
place before the sweep (:func:`floodsim.kernels.boundary.apply_boundary_fluxes`).

The result is identical to :func:`floodsim.kernels.inertial.compute_face_fluxes` followed by
:func:`floodsim.kernels.continuity.update_depth`; it only reads ``h``, ``qx`` and ``qy`` once.
"""

from __future__ import annotations

from ._jit import parallel_kernel, prange, thread_slot
from .continuity import _update_band, continuity_row
from .inertial import flux_row, start_band

@parallel_kernel
def sweep_bands(
    z, h, active, manning, qx, qy, bands, band_start, edge_above, edge_below, work, rain_rows,
    dt, dx, dy, g, theta, hmin,
    rain_rate, rain_field, infil_model, infil_F, infil_p1, infil_p2, infil_p3, t_new,
    h_max, v2_max, t_hmax, band_wet, band_wave, band_infil, band_round, row_negative,
):
    """Fluxes of the listed bands and the depth update of all their rows but the first.

    Arguments as :func:`~floodsim.kernels.inertial.compute_face_fluxes` (first line) and
    :func:`~floodsim.kernels.continuity.update_depth` (the rest); the per-band reductions are
    written for the swept bands and completed by :func:`finish_bands`. ``work`` (the flux rows, see
    :func:`~floodsim.kernels.inertial.compute_face_fluxes`) and ``rain_rows`` ((threads, 2, >= nx) float64,
    the depth update's) are per-thread scratch, taken by :func:`~floodsim.kernels._jit.thread_slot`;
    ``band_round`` the rounding ledger of single precision
    (:func:`~floodsim.kernels.continuity.update_depth`). Each updated row's new state
    (time ``t_new``, the end of the step) is folded into the running maxima ``h_max``, ``v2_max``,
    ``t_hmax`` by the depth update.
    """
    for k in prange(bands.size):
        b = bands[k]
        r0 = band_start[b]
        r1 = band_start[b + 1]
        slot = thread_slot()
        wb = work[slot]
        scratch = rain_rows[slot]
        start_band(r0, manning, edge_above[b], wb)
        wet = 0
        wave = 0.0
        infil_sum = 0.0
        rounded = 0.0
        for i in range(r0, r1):
            flux_row(i, r1, z, h, active, manning, qx, qy, edge_below[b], wb, dt, dx, dy, g, theta, hmin)
            if i > r0:
                w, c, f, r, n = continuity_row(i, True, h, qx, qy, active, rain_rate, rain_field, infil_model,
                                            infil_F, infil_p1, infil_p2, infil_p3, dt, dx, dy, g, hmin,
                                            t_new, h_max, v2_max, t_hmax, scratch)
                wet += w
                wave = max(wave, c)
                infil_sum += f
                rounded += r
                row_negative[i] = n
        band_wet[b] = wet > 0
        band_wave[b] = wave
        band_infil[b] = infil_sum
        band_round[b] = rounded


@parallel_kernel
def finish_bands(
    h, qx, qy, active, band_start, swept, with_flux,
    rain_rate, rain_field, infil_model, infil_F, infil_p1, infil_p2, infil_p3,
    dt, dx, dy, t_new, g, hmin, h_max, v2_max, t_hmax,
    band_wet, band_wave, band_infil, band_round, row_negative, rain_rows,
):
    """Depth update of the first row of each swept band and of every row of the other bands.

    ``swept[b]`` marks bands done by :func:`sweep_bands`; ``with_flux[b]`` says whether a band that was
    not swept still has a non-zero face (the band above wrote their shared face), so its divergence
    is taken. Bands neither swept, nor with flux, nor receiving rain or infiltrating are left as they
    are (reductions zero; their state, already in the maxima, did not change). Every updated row
    folds its new state (time ``t_new``) into the running maxima, as in :func:`sweep_bands`.
    """
    uniform_rain = rain_field.shape[0] == 1 and rain_field.shape[1] == 1
    has_sources = infil_model != 0 or rain_rate != 0.0 or not uniform_rain
    for b in prange(band_start.size - 1):
        r0 = band_start[b]
        scratch = rain_rows[thread_slot()]   # (per-thread, as in sweep_bands)
        if swept[b]:
            w, c, f, r = _update_band(r0, r0 + 1, True, h, qx, qy, active, rain_rate, rain_field,
                                   infil_model, infil_F, infil_p1, infil_p2, infil_p3, dt, dx, dy,
                                   g, hmin, t_new, h_max, v2_max, t_hmax, scratch, row_negative)
            band_wet[b] = band_wet[b] | (w > 0)
            band_wave[b] = max(band_wave[b], c)
            band_infil[b] += f
            band_round[b] += r
        elif with_flux[b] or has_sources:
            w, c, f, r = _update_band(r0, band_start[b + 1], with_flux[b] != 0, h, qx, qy, active,
                                   rain_rate, rain_field, infil_model, infil_F, infil_p1, infil_p2,
                                   infil_p3, dt, dx, dy, g, hmin, t_new, h_max, v2_max, t_hmax,
                                   scratch, row_negative)
            band_wet[b] = w > 0
            band_wave[b] = c
            band_infil[b] = f
            band_round[b] = r
        else:
            band_wet[b] = 0
            band_wave[b] = 0.0
            band_infil[b] = 0.0
            band_round[b] = 0.0
            for i in range(r0, band_start[b + 1]):
                row_negative[i] = 0
