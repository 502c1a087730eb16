"""The three auxiliary designs of a wave's indices (:func:`design_variants`) and the villages' weight shares."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.small_domains.options import KEYS

__all__ = [
    "design_variants",
]


def design_variants(
    respondents: pd.DataFrame,
    indices: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    unit: str = "commune_code",
    psu: str = "psu",
    strata: str = "stratum",
    id_column: str = "respondent_id",
) -> pd.DataFrame:
    """SEs of the indices under the three auxiliary designs of the variance model.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave (PSU codes unique within commune). Not modified.
    indices : callable
        ``indices(respondents) -> estimates table`` (the run's index function).
    unit, psu, strata, id_column : str
        Commune, village (PSU), stratum and respondent-id columns.

    Returns
    -------
    pandas.DataFrame
        One row per (wave, level, unit, index) without subgroup: ``se_within`` (commune =
        stratum, village = PSU: villages sampled within the commune), ``se_respondent``
        (commune = stratum, respondents as the units), ``se_village`` (village = stratum,
        respondents as the units: the spread within villages only), ``n_psu_within`` (villages
        with a valid answer), and per unit ``n_unit`` (respondents), ``n_kish`` (their Kish
        effective number), ``village_h`` (:math:`h = \\sum_j (W_j/W)^2` over its villages) and
        ``village_c`` (:math:`c = \\frac{m}{m-1}(h - 2\\sum_j a_j^3 + h^2)`, :math:`a_j = W_j/W`:
        what the villages-within-commune estimator expects of a village effect's variance).

    Notes
    -----
    With the commune as a stratum, the variance of a commune figure is the one of villages
    sampled within the commune, :math:`\\frac{m}{m-1}\\sum_j (z_j-\\bar z)^2` over its :math:`m`
    villages. With the area as the stratum (the usual design of the survey files) the factor is
    that of the area's many villages, about 1 instead of :math:`m/(m-1)` = 1.5 for three
    villages: the direct SE of a commune is too small on average as well as unstable.
    """
    for col in (unit, psu, id_column):
        if col not in respondents.columns:
            raise InputError(f"column {col!r} not in the respondent table", column=col)
    code = respondents[unit]
    commune = code.astype("string").fillna("__none__")
    if strata in respondents.columns:
        # rows without a commune keep their own stratum (they only enter area/total cells)
        commune = commune.where(code.notna(), "s:" + respondents[strata].astype("string"))
    village = commune + "|" + respondents[psu].astype("string").fillna("NA")
    rid = respondents[id_column].astype("string")
    frames = []
    for name, st, ps in (
        ("within", commune, village),
        ("respondent", commune, commune + "|" + rid),
        ("village", village, village + "|" + rid),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = indices(respondents.assign(**{strata: st, psu: ps}))
        if "subgroup" in est.columns:
            est = est[est["subgroup"].fillna("") == ""]
        frame = pd.DataFrame(
            {
                "wave": est["wave"].astype(str).to_numpy(),
                "level": est["level"].to_numpy(),
                "unit_code": est["unit_code"].astype(str).to_numpy(),
                "index_code": est["index_code"].to_numpy(),
                f"se_{name}": est["se"].to_numpy(dtype=float),
            }
        )
        if name == "within":
            frame["n_psu_within"] = est["n_psu"].to_numpy()
        frames.append(frame.drop_duplicates(KEYS))
    out = frames[0].merge(frames[1], on=KEYS, how="outer").merge(frames[2], on=KEYS, how="outer")
    return out.merge(
        _village_shares(respondents, unit, village), on=["level", "unit_code"], how="left"
    )


def _village_shares(respondents: pd.DataFrame, unit: str, village: pd.Series) -> pd.DataFrame:
    """Per commune (area, whole area): respondents, Kish effective number, :math:`\\sum_j (W_j/W)^2`."""
    w = pd.to_numeric(respondents["weight"], errors="coerce").fillna(0.0)
    levels = [("commune", respondents[unit].astype("string"))]
    if "area_code" in respondents.columns:
        levels.append(("area", respondents["area_code"].astype("string")))
    levels.append(("total", pd.Series("total", index=respondents.index, dtype="string")))
    parts = []
    for level, key in levels:
        frame = pd.DataFrame({"_u": key, "_v": village, "_w": w, "_w2": w**2}).dropna(subset=["_u"])
        g = frame.groupby("_u")
        wt = g["_w"].sum()
        per_v = frame.groupby(["_u", "_v"])["_w"].sum()
        a = per_v / wt.reindex(per_v.index.get_level_values(0)).to_numpy()
        h = (a**2).groupby(level=0).sum()
        a3 = (a**3).groupby(level=0).sum()
        m = a.groupby(level=0).size()
        with np.errstate(invalid="ignore", divide="ignore"):
            # E of the villages-within-commune estimator of a village effect's variance, per
            # unit of sigma2_b: m/(m-1) (h - 2 sum a^3 + h^2); = h when villages weigh alike
            c = (m / (m - 1) * (h - 2 * a3 + h**2)).where(m > 1)
        parts.append(
            pd.DataFrame(
                {
                    "level": level,
                    "unit_code": wt.index.astype(str),
                    "n_unit": g.size().reindex(wt.index).to_numpy(dtype=float),
                    "n_kish": (wt**2 / g["_w2"].sum()).to_numpy(dtype=float),
                    "village_h": h.reindex(wt.index).to_numpy(dtype=float),
                    "village_c": c.reindex(wt.index).to_numpy(dtype=float),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
