"""The design in figures for people (:func:`design_summary`): PSUs per stratum and per commune,
degrees of freedom, single-PSU strata (``sipas validate`` and the run's manifest)."""

from __future__ import annotations

import pandas as pd

__all__ = ["LOW_DF", "design_summary"]


#: PSUs: with df 2, a t quantile of 4.3 instead of 2.0).
LOW_DF = 10


def design_summary(
    stratum: pd.Series, psu: pd.Series, commune: pd.Series | None = None
) -> dict[str, object]:
    """Counts that describe a sample design: strata, PSUs, PSUs per commune, design df.

    Parameters
    ----------
    stratum, psu : Series
        Stratum and PSU label of each respondent (rows with a missing label are ignored). PSU
        labels are nested in strata, as :func:`survey_design` does.
    commune : Series, optional
        Commune of each respondent, for the PSUs per commune and the PSUs found in several
        communes.

    Returns
    -------
    dict
        ``n_respondents, n_strata, n_psu, df`` (PSUs minus strata, R's ``degf``),
        ``singleton_strata`` (labels of strata with one PSU), and with ``commune``:
        ``psu_per_commune`` (``min, median, max``), ``psu_multi_commune`` (PSU labels found in
        several communes).

    Examples
    --------
    >>> s = pd.Series(["1"] * 6)
    >>> p = pd.Series(["a", "a", "b", "b", "c", "c"])
    >>> c = pd.Series([1, 1, 1, 2, 2, 2])
    >>> d = design_summary(s, p, c)
    >>> d["n_psu"], d["df"], d["psu_multi_commune"]
    (3, 2, ['b'])
    """
    frame = pd.DataFrame({"s": stratum.to_numpy(), "p": psu.to_numpy()})
    if commune is not None:
        frame["c"] = commune.to_numpy()
    frame = frame.dropna(subset=["s", "p"])
    frame["s"] = frame["s"].astype(str)
    frame["p"] = frame["s"] + "\x1f" + frame["p"].astype(str)
    per_stratum = frame.groupby("s")["p"].nunique()
    out: dict[str, object] = {
        "n_respondents": int(len(frame)),
        "n_strata": int(per_stratum.size),
        "n_psu": int(frame["p"].nunique()),
        "df": int(frame["p"].nunique() - per_stratum.size),
        "singleton_strata": sorted(per_stratum[per_stratum == 1].index.tolist()),
    }
    if commune is not None:
        known = frame.dropna(subset=["c"])
        per_commune = known.groupby("c")["p"].nunique()
        spans = known.groupby("p")["c"].nunique()
        out["n_communes"] = int(per_commune.size)
        out["psu_per_commune"] = (
            {
                "min": int(per_commune.min()),
                "median": float(per_commune.median()),
                "max": int(per_commune.max()),
            }
            if per_commune.size
            else {"min": 0, "median": 0.0, "max": 0}
        )
        out["psu_multi_commune"] = sorted(p.split("\x1f", 1)[1] for p in spans[spans > 1].index)
    return out
