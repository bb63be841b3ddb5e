"""Tabular inputs (hyetographs, hydrographs): CSV files checked for the columns a caller needs."""

from __future__ import annotations

import pandas as pd

from ..errors import InputDataError


def read_csv_columns(path, columns, what: str) -> pd.DataFrame:
    """Read a CSV and check that ``columns`` exist and have no empty cells.

    Errors name the file, what it is for (``what``), the missing columns or the first row (as a
    spreadsheet row number, header = row 1) with a gap.
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
    gaps = df[list(columns)].isna().any(axis=1).to_numpy()
    if gaps.any():
        raise InputDataError(f"{path} ({what}): row {int(gaps.argmax()) + 2} has an empty value; fill the gap.")
    return df
