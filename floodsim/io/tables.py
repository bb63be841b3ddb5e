"""Tabular inputs (hyetographs, hydrographs): CSV files checked for the columns a caller needs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputDataError

#: Largest magnitude of a value in a table (as for every number of a scenario,
#: :data:`floodsim.scenario.base.MAX_MAGNITUDE`): beyond it a value is a typo or a unit mistake, and
#: converting it to SI (minutes to seconds) could overflow.
MAX_MAGNITUDE = 1.0e12


def read_csv_columns(path, columns, what: str) -> pd.DataFrame:
    """Read a CSV and check that ``columns`` exist, hold finite numbers (within ±:data:`MAX_MAGNITUDE`)
    and have no empty cells.

    Errors name the file, what it is for (``what``), the missing columns or the first row (as a
    spreadsheet row number, header = row 1) with a gap or a value that is not a finite number.
    """
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise InputDataError(f"{path} ({what}): file not found.") from None
    except Exception as exc:  # pandas raises several types for unreadable files
        raise InputDataError(f"{path} ({what}): cannot read it as CSV ({exc}).") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputDataError(f"{path} ({what}): missing column(s) {', '.join(missing)}; the file has "
                             f"{', '.join(map(str, df.columns))}.")
    if len(df) == 0:
        raise InputDataError(f"{path} ({what}): the file has a header but no rows; add the values.")
    gaps = df[list(columns)].isna().any(axis=1).to_numpy()
    if gaps.any():
        raise InputDataError(f"{path} ({what}): row {int(gaps.argmax()) + 2} has an empty value; fill the gap.")
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = (values.isna() | ~np.isfinite(values.to_numpy(float, na_value=np.nan))).to_numpy()
        if bad.any():
            k = int(bad.argmax())
            shown = str(df[c].iloc[k])[:40]
            raise InputDataError(f"{path} ({what}): row {k + 2}, column {c}: {shown!r} is not a finite number.")
        huge = (values.abs() > MAX_MAGNITUDE).to_numpy()
        if huge.any():
            k = int(huge.argmax())
            raise InputDataError(f"{path} ({what}): row {k + 2}, column {c}: {values.iloc[k]:g} is beyond "
                                 f"±{MAX_MAGNITUDE:g}, a typo or a unit mistake; check the value and its unit.")
        df[c] = values.astype(float)
    return df
