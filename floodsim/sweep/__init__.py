"""Design sweeps: many variants of one scenario, run on dask.distributed, gathered into one table.

A sweep file (TOML) names a base scenario and the parameters to vary::

    base = "../merewether_cloudburst.toml"        # relative to this file; may use `extends`
    [grid]                                         # every combination of the listed values
    "rainfall.return_period_yr" = [5, 20, 100]
    "rainfall.climate_factor" = [1.0, 1.3]

    [[members]]                                    # and/or explicit members (tables of overrides)
    label = "small tank"
    "measures.0.volume_m3" = 400.0

Keys are dotted paths into the scenario; list items are picked by index (``measures.0.volume_m3``,
``boundaries.1.slope``). Unquoted dotted keys (TOML tables) are flattened into the same paths. An
unknown path stops the sweep before anything runs, with a message naming it. With both ``[grid]`` and
``[[members]]`` every member is combined with every grid point (where both set a key, the member's value
wins). ``label`` names a member in the table.

Each member is the base scenario's data with the overrides applied, validated again as a whole
(paths in override values are relative to the sweep file). Before anything runs or is written, every
member is validated, every data file the members name is read (a missing one is named), and the
damage curves, costs, country and building uses of ``[damage]`` are checked: a problem stops the sweep
with exit code 2 and an empty output folder. Members then run as separate tasks on a Dask cluster, each
writing its own run folder ``OUT/members/<id>/`` through :func:`floodsim.run.runner.run_scenario`.

**Resume.** The id is the member's position plus a hash of its overrides; editing a member's overrides
gives it a new id. Each member also has a *fingerprint* (:func:`~floodsim.sweep.members.input_hashes`):
SHA-256 of its merged scenario plus the content of every data file it names (DEM, layers, IDF file,
CSVs) and the floodsim version, written to ``member.json`` after the run. A sweep started again skips a
member only when its folder holds a complete ``summary.json`` (written last and atomically by the
runner) *and* a ``member.json`` with the current fingerprint; a member whose base scenario or data
changed since is run again (status ``rerun (inputs changed: <what>)``), as is one that was killed. A
member that fails is reported with its error in the table (the full message and traceback go to its
folder's ``error.txt``); the others go on. When every member fails the table, ``ead.csv`` and the
ranking are still written, and ``floodsim sweep`` exits with the worst failure's code.

**Threads.** The local cluster has N worker *processes* with one thread each, and each worker
process starts with ``NUMBA_NUM_THREADS=1``: the members already use every core between them, and
numba's own threads on top would oversubscribe the (shared, 2-core) machine and slow every member
down. On an existing cluster, start the workers the same way (see the README).

The gathered table (one row per member) holds the parameters and, per member: flooded buildings,
hazard area, maximum stored volume in the measures, peak outflow, the volume-balance error and the
building damage; see :data:`METRICS`. When the return period varies, the expected annual damage of
each design (the other parameters held fixed) and its benefit against the first design are added.

Members are named for engineers: ``label · varied parameters · N-yr`` (e.g. ``pond, 0.3 m pipe ·
20-yr``); a parameter a member does not set shows its merged scenario's (the base's) value, ``n/a``
where the path does not exist in it. When the return period varies, ``matrix.csv`` holds designs ×
return periods with each metric's % change against the member without measures of the same return
period, the ranking is printed per return period, and :mod:`floodsim.sweep.risk` writes per design the
likelihood bands (``likelihood_<design>.tif``), the first return period that floods each building and
its expected annual damage (``risk_<design>.gpkg``), and with a ``[service_goal]`` (``max_depth_m``,
``return_period_yr``) ``service_goal_<design>.tif`` and ``service_goal.csv``.

Modules: ``spec`` (the sweep file), ``members`` (the scenarios of a sweep), ``metrics`` (a member's
numbers, read from its run folder), ``execute`` (Dask), ``tables`` (the gathered table, EAD, matrix, ranking), ``risk`` (likelihood
products).
"""

from .execute import SweepResult, make_client, process_member, run_sweep
from .members import Member, expand_members
from .metrics import METRICS, member_metrics
from .spec import SweepSpec, load_sweep
from .tables import format_ranking, ranked

__all__ = ["METRICS", "Member", "SweepResult", "SweepSpec", "expand_members", "format_ranking", "load_sweep",
           "make_client", "member_metrics", "process_member", "ranked", "run_sweep"]
