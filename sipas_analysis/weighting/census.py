"""Census margins of the survey area (:func:`census_margins`): the 2019 census counts by sex, age
band and urban/rural, for the communes of a wave."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.weighting.cells import MarginKey, _as_key, _check_columns, _rows

__all__ = ["census_margins"]


# ----------------------------------------------------------------------------------------------
# census margins
# ----------------------------------------------------------------------------------------------
_CENSUS_KEYS = {
    ("commune_code",),
    ("area_code",),
    ("urban_rural",),
    ("commune_code", "urban_rural"),
    ("area_code", "urban_rural"),
}


def census_margins(
    communes: pd.DataFrame,
    by: Sequence[MarginKey] = ("commune_code", "urban_rural"),
    *,
    supplied: Mapping[MarginKey, pd.DataFrame] | None = None,
) -> dict[MarginKey, pd.DataFrame]:
    """Population margins for :func:`rake` / :func:`poststratify` from the 2019 census.

    Parameters
    ----------
    communes : DataFrame
        One row per commune of the survey, as returned by ``geography.communes(vintage)``:
        ``commune_code``, ``area_code``, ``pop_2019_total``, ``pop_2019_urban``,
        ``pop_2019_rural``. Keep only the communes the sample covers: every category of a margin
        needs respondents.
    by : sequence of str or tuple of str, default ("commune_code", "urban_rural")
        The margins wanted. Built from the census: ``"commune_code"``, ``"area_code"``,
        ``"urban_rural"`` (1 thành thị, 2 nông thôn), ``("commune_code", "urban_rural")``,
        ``("area_code", "urban_rural")``. Any other margin (``"sex"``, ``"age_band"``,
        ``("sex", "age_band")``) must be given in ``supplied``.
    supplied : dict, optional
        User tables for margins the census reference does not hold: key as in ``by``, value a
        DataFrame with the key column(s) and either ``total`` (persons) or ``share`` (fractions
        summing to 1, scaled here to the communes' total 2019 population).

    Returns
    -------
    dict
        ``{key: DataFrame[key columns..., total]}`` in the order of ``by``; cells with zero
        population (e.g. the rural part of a ward) are left out.

    Raises
    ------
    InputError
        Missing census columns, a margin neither in the census nor supplied, a supplied table
        without ``total``/``share``, or shares that do not sum to 1.

    Notes
    -----
    Limitation: the reference data hold, per commune, only the 2019 census population — total,
    urban and rural — for all ages. Counts by sex × age band per commune are not published in
    the reference tables, so sex and age-band margins have to come from the user (e.g. the
    provincial census tables), via ``supplied``. The census counts are for the whole population,
    not adults 18+: raking to them fixes the *distribution* over communes and urban/rural, which is
    what matters for means and proportions, while weighted totals then refer to all ages.
    For a margin of categories :math:`c` the total is :math:`N_c = \\sum_{k \\in c} P_k` over
    communes :math:`k`; a share table becomes :math:`N_c = s_c \\sum_k P_k`.

    Examples
    --------
    >>> import pandas as pd
    >>> com = pd.DataFrame({"commune_code": [1, 2], "area_code": [794, 794],
    ...     "pop_2019_total": [100, 300], "pop_2019_urban": [100, 50],
    ...     "pop_2019_rural": [0, 250]})
    >>> m = census_margins(com, by=["urban_rural", ("sex",)],
    ...     supplied={("sex",): pd.DataFrame({"sex": [1, 2], "share": [0.49, 0.51]})})
    >>> m["urban_rural"]["total"].tolist(), m[("sex",)]["total"].tolist()
    ([150.0, 250.0], [196.0, 204.0])
    """
    supplied = dict(supplied or {})
    need = ["commune_code", "pop_2019_total", "pop_2019_urban", "pop_2019_rural"]
    if any(_as_key(k) in _CENSUS_KEYS and "area_code" in _as_key(k) for k in by):
        need.append("area_code")
    _check_columns(communes, need, "census_margins (communes table)")
    com = communes.copy()
    for c in ("pop_2019_total", "pop_2019_urban", "pop_2019_rural"):
        com[c] = pd.to_numeric(com[c], errors="coerce").astype("float64")
        bad = ~np.isfinite(com[c].to_numpy()) | (com[c].to_numpy() < 0)
        if bad.any():
            raise InputError(
                "census population missing or negative",
                column=c,
                rows=_rows(com, bad),
                values=list(com.loc[bad, "commune_code"]),
            )
    grand = float(com["pop_2019_total"].sum())

    long = pd.concat(
        [
            com.assign(urban_rural=1, total=com["pop_2019_urban"]),
            com.assign(urban_rural=2, total=com["pop_2019_rural"]),
        ],
        ignore_index=True,
    )
    out: dict[MarginKey, pd.DataFrame] = {}
    for raw in by:
        key = _as_key(raw)
        if raw in supplied or key in {_as_key(k) for k in supplied}:
            table = (
                supplied[raw]
                if raw in supplied
                else next(v for k, v in supplied.items() if _as_key(k) == key)
            )
            _check_columns(table, list(key), f"supplied margin {key}")
            if "total" in table.columns:
                frame = table[[*key, "total"]].copy()
                frame["total"] = pd.to_numeric(frame["total"], errors="coerce").astype("float64")
            elif "share" in table.columns:
                share = pd.to_numeric(table["share"], errors="coerce").astype("float64")
                if not math.isclose(float(share.sum()), 1.0, abs_tol=1e-6):
                    raise InputError(
                        f"supplied margin {key}: shares sum to {float(share.sum())}, not 1",
                        column="share",
                    )
                frame = table[list(key)].copy()
                frame["total"] = share.to_numpy() * grand
            else:
                raise InputError(
                    f"supplied margin {key} needs a 'total' or a 'share' column",
                    values=list(table.columns),
                )
        elif key in _CENSUS_KEYS:
            src = long if "urban_rural" in key else com.assign(total=com["pop_2019_total"])
            frame = src.groupby(list(key), as_index=False, sort=True)["total"].sum()
            frame = frame[frame["total"] > 0].reset_index(drop=True)
        else:
            raise InputError(
                f"margin {key} is not in the 2019 census reference data (it holds population per "
                "commune: total, urban, rural). Pass it in supplied= as a table with a 'total' "
                "or 'share' column.",
                values=[key],
            )
        out[raw] = frame.reset_index(drop=True)
    return out
