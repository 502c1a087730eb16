"""One call per survey: the whole weak-point analysis of a SIPAS or a PAPI wave.

:func:`sipas_weak_points` builds the contrasts with the rest (communes and areas), the
importance–performance table and the commune ranks of each reported wave and lists its findings;
:func:`papi_weak_points` lists the findings of PAPI waves (no contrasts: two communes per area).
Both compute the trends when the run does not pass its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.findings.contrasts import rest_contrasts
from sipas_analysis.findings.importance import importance_performance
from sipas_analysis.findings.ranks import commune_ranks
from sipas_analysis.findings.table import weak_points
from sipas_analysis.trends import trend_table

__all__ = ["papi_weak_points", "sipas_weak_points"]


def sipas_weak_points(
    waves: Mapping[str, pd.DataFrame],
    estimates: pd.DataFrame,
    wave: str,
    *,
    benchmarks: pd.DataFrame | None = None,
    q: float = 0.05,
    report_waves: Sequence[str] | None = None,
    trends: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Everything the weak-point analysis of one SIPAS wave needs, in one call.

    Parameters
    ----------
    waves : dict
        Wave -> canonical respondent table of each reported wave (for the importance–performance
        correlations, the only respondent-level step).
    estimates : pandas.DataFrame
        Estimates table of these waves as the run computes it
        (:func:`sipas_analysis.pipeline.indices_for`: the indices with the commune variance
        model and the model-based estimates of :mod:`sipas_analysis.small_domains`). Only read.
    wave : str
        The wave whose weak points are listed.
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.national.benchmark_values` output.
    q : float, default 0.05
        False discovery rate (:func:`weak_points`).
    report_waves : sequence of str, optional
        Waves whose weak points are listed (default ``[wave]``); each needs its respondent table.
    trends : pandas.DataFrame, optional
        The trends table of these waves as the run computes it (with the changes re-expressed
        on the 2025 geography); default :func:`trend_table` on the rows without subgroup. Only
        read.

    Returns
    -------
    dict of DataFrame
        ``findings``, ``trends``, ``contrasts`` (commune and area, :func:`rest_contrasts`),
        ``importance_performance``, ``ranks`` (:func:`commune_ranks`; these three with a
        ``wave`` column). The inputs are not returned: the caller keeps its own.

    Examples
    --------
    >>> out = sipas_weak_points({"2023": w23, "2024": w24}, est, "2024")  # doctest: +SKIP
    """
    report = [str(w) for w in (report_waves or [wave])]
    by_wave = {str(k): df for k, df in waves.items()}
    missing = [w for w in report if w not in by_wave]
    if missing:
        raise InputError(f"no respondent table for wave(s) {missing}", values=missing)
    est = estimates[estimates["survey"] == "sipas"]
    if trends is None:
        trends = trend_table(est[est["subgroup"].fillna("") == ""] if "subgroup" in est else est)
    parts: dict[str, list[pd.DataFrame]] = {"findings": [], "contrasts": [], "ipa": [], "ranks": []}
    for w in report:
        resp = by_wave[w]
        est_w = est[est["wave"].astype(str) == w]
        contrasts = pd.concat(
            [rest_contrasts(est_w, "commune"), rest_contrasts(est_w, "area")], ignore_index=True
        )
        ipa = importance_performance(resp, estimates=est[est["wave"].astype(str) == w])
        ranks = commune_ranks(est_w)
        parts["findings"].append(
            weak_points(
                est,
                wave=w,
                survey="sipas",
                trends=trends,
                contrasts=contrasts,
                benchmarks=benchmarks,
                ipa=ipa,
                ranks=ranks,
                q=q,
            )
        )
        parts["contrasts"].append(contrasts.assign(wave=w))
        parts["ipa"].append(ipa.assign(wave=w))
        parts["ranks"].append(ranks.assign(wave=w))
    return {
        "findings": pd.concat(parts["findings"], ignore_index=True),
        "trends": trends,
        "contrasts": pd.concat(parts["contrasts"], ignore_index=True),
        "importance_performance": pd.concat(parts["ipa"], ignore_index=True),
        "ranks": pd.concat(parts["ranks"], ignore_index=True),
    }


def papi_weak_points(
    estimates: pd.DataFrame,
    wave: str,
    *,
    benchmarks: pd.DataFrame | None = None,
    q: float = 0.05,
    report_waves: Sequence[str] | None = None,
    trends: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The weak-point analysis of one PAPI-style wave: trends and findings, from the estimates.

    Parameters
    ----------
    estimates : pandas.DataFrame
        PAPI estimates of these waves as the run computes them
        (:func:`sipas_analysis.pipeline.indices_for`). Only read.
    wave : str
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.national.benchmark_values` (national medians, targets).
    q : float, default 0.05
    report_waves, trends
        As in :func:`sipas_weak_points`.

    Returns
    -------
    dict of DataFrame
        ``findings``, ``trends``.

    Notes
    -----
    PAPI selects two communes per area, so "commune vs the rest of its area" would compare with
    one other commune: no contrasts; the reasons are the lowest sub-dimensions and dimensions, a
    significant decline since the last comparable wave (BH), and the national median / targets.

    Examples
    --------
    >>> out = papi_weak_points(est, "2024")  # doctest: +SKIP
    """
    report = [str(w) for w in (report_waves or [wave])]
    have = set(estimates["wave"].astype(str))
    missing = [w for w in report if w not in have]
    if missing:
        raise InputError(f"no PAPI estimates of wave(s) {missing}", values=missing)
    est = estimates[estimates["survey"] == "papi"]
    if trends is None:
        base = est[est["subgroup"].fillna("") == ""] if "subgroup" in est.columns else est
        trends = trend_table(base)
    findings = pd.concat(
        [
            weak_points(est, wave=w, survey="papi", trends=trends, benchmarks=benchmarks, q=q)
            for w in report
        ],
        ignore_index=True,
    )
    return {"findings": findings, "trends": trends}
