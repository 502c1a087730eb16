"""Commune ranks with joint rank confidence sets, never a bare rank.

:func:`commune_ranks` ranks the communes on the model-based estimate and gives each the joint
rank confidence set of :func:`sipas_analysis.small_area.rank_confidence_sets`; the findings show
them with the commune findings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sipas_analysis.disclosure import MIN_N
from sipas_analysis.errors import InputError

__all__ = ["commune_ranks"]


def commune_ranks(
    estimates: pd.DataFrame,
    *,
    index_levels: Sequence[str] = ("overall", "part", "element"),
    level: float = 0.95,
) -> pd.DataFrame:
    """Rank of every commune (1 = best) with a joint 95% rank confidence set, from the estimates.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table of one or more waves with the model-based commune estimates
        (:func:`sipas_analysis.small_domains.model_estimates`). Not modified.
    index_levels : sequence of str
        Index levels ranked (default: the overall index, the parts and the elements).
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``wave, survey, unit_code, index_code, rank_basis, rank, rank_low, rank_high, n_units,
        n``; ``rank_basis`` names what is ranked (``estimate_model``: the model-based estimate,
        or ``estimate`` where no model was fitted).

    Notes
    -----
    The communes with at least 10 answers are ranked on the model-based estimate
    (:mod:`sipas_analysis.small_domains`; it borrows strength across communes, so a commune of
    20 answers does not top or bottom the table by chance). The set of ranks of each commune is
    the one of Klein, Wright and Wieczorek (2020)
    (:func:`sipas_analysis.small_area.rank_confidence_sets`) on the direct estimates and their
    model SEs (independent across communes, and valid also for a commune far from the rest,
    where the model's MSE is not): all true ranks lie in their sets at once with probability at
    least ``level`` (Bonferroni over all pairs of communes). A set is widened, if need be, to
    hold the point rank. A commune without an estimate (too few answers) is left out of
    everyone's ranking and gets no rank.
    """
    from sipas_analysis.small_area import rank_confidence_sets

    need = ["wave", "survey", "level", "unit_code", "index_code", "index_level", "estimate", "se"]
    miss = [c for c in need if c not in estimates.columns]
    if miss:
        raise InputError(f"the estimates table lacks column(s) {miss}", column=miss[0])
    e = estimates[
        (estimates["level"] == "commune") & estimates["index_level"].isin(list(index_levels))
    ]
    if "subgroup" in e.columns:
        e = e[e["subgroup"].fillna("").astype(str) == ""]
    e = e[pd.to_numeric(e["n"], errors="coerce") >= MIN_N]
    if "role" in e.columns:
        e = e[~e["role"].fillna("").isin(["perception", "expectation"])]
    cols = ["wave", "survey", "unit_code", "index_code", "rank_basis", "rank", "rank_low",
            "rank_high", "n_units", "n"]  # fmt: skip
    frames = []
    for (wave, survey, code), g in e.groupby(["wave", "survey", "index_code"], sort=False):
        has_model = "estimate_model" in g.columns and g["estimate_model"].notna().all()
        basis = "estimate_model" if has_model else "estimate"
        # the set: pairwise comparisons of the direct estimates (independent, valid SEs)
        sets = rank_confidence_sets(
            g["estimate"].to_numpy(dtype=float), g["se"].to_numpy(dtype=float), alpha=1 - level
        )
        # the point rank: the model-based estimate (it shrinks the small communes)
        point = pd.Series(g[basis].to_numpy(dtype=float)).rank(ascending=False, method="min")
        low = np.fmin(sets["rank_low"].to_numpy(dtype=float), point.to_numpy())
        high = np.fmax(sets["rank_high"].to_numpy(dtype=float), point.to_numpy())
        frames.append(
            pd.DataFrame(
                {
                    "wave": str(wave),
                    "survey": survey,
                    "unit_code": g["unit_code"].astype(str).to_numpy(),
                    "index_code": code,
                    "rank_basis": basis,
                    "rank": point.to_numpy(),
                    "rank_low": low,
                    "rank_high": high,
                    "n_units": sets["n_ranked"].to_numpy(),
                    "n": g["n"].to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    for c in ("rank", "rank_low", "rank_high"):
        out[c] = pd.array(out[c].tolist(), dtype="Int64")
    return out[cols]
