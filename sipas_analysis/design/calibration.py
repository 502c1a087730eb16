"""Calibrated weights in the variance: :class:`Calibration` (the model matrix and the residuals of
the influence values) and :func:`calibration_model`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas_analysis.design.options import _source_rows
from sipas_analysis.errors import InputError

__all__ = ["Calibration", "calibration_model"]


@dataclass(frozen=True)
class Calibration:
    """The calibration model of calibrated weights, for the variance (R ``greg_calibration``).

    Build it with :func:`calibration_model` (or let :func:`survey_design` find the calibration
    columns of the table).

    Attributes
    ----------
    basis : ndarray of float, shape (n, r)
        Orthonormal basis :math:`Q` of the column space of :math:`D^{1/2} X` (:math:`X` the
        indicator columns of every calibration variable, :math:`D = \\mathrm{diag}(d_i)`), of
        rank :math:`r`.
    factor : ndarray of float, shape (n,)
        :math:`f_i = w_i / \\sqrt{d_i} = g_i \\sqrt{d_i}` (R's ``caldata$w``).
    variables : tuple of str
        The calibration columns.
    g : ndarray of float, shape (n,)
        g-weights :math:`g_i = w_i / d_i`.

    Notes
    -----
    For influence values :math:`z_i` of an estimator computed with the calibrated weights,

    .. math:: e = f \\odot (I - QQ^T)(z \\oslash f)
              = w \\odot \\bigl(r - X\\hat b\\bigr), \\qquad r = z \\oslash w, \\quad
              \\hat b = (X^T D X)^{-}X^T D\\, r,

    the residuals of the design-weighted regression of :math:`r` on the calibration variables,
    multiplied by the calibrated weights: R ``qr.resid(qr(mm * sqrt(d)), x / w) * w`` with
    ``w = g * sqrt(d)`` (``survey:::svyrecvar``, ``greg_calibration`` at stage 0). The variance of
    the estimator is the design variance of these residuals.
    """

    basis: np.ndarray
    factor: np.ndarray
    variables: tuple[str, ...]
    g: np.ndarray

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Residuals :math:`e` of influence values ``z`` (n or n x k), see the class Notes."""
        z = np.asarray(z, dtype=float)
        s = z / (self.factor[:, None] if z.ndim == 2 else self.factor)
        s = s - self.basis @ (self.basis.T @ s)
        return s * (self.factor[:, None] if z.ndim == 2 else self.factor)


def calibration_model(
    df: pd.DataFrame,
    weights: np.ndarray,
    design_weights: np.ndarray,
    variables: list[str],
    *,
    file: str | None = None,
) -> Calibration:
    """The :class:`Calibration` of calibrated ``weights`` on the categories of ``variables``.

    Parameters
    ----------
    df : pandas.DataFrame
        Respondent table holding the calibration columns ``variables``.
    weights, design_weights : ndarray of float, shape (n,)
        Calibrated weights :math:`w_i` and design weights :math:`d_i` (both > 0).
    variables : list of str
        Calibration columns; each contributes the indicators of its categories to :math:`X`.
    file : str, optional
        File name to cite in error messages.

    Returns
    -------
    Calibration

    Raises
    ------
    InputError
        A calibration column with missing values.

    Notes
    -----
    :math:`Q` comes from a QR decomposition with column pivoting of :math:`D^{1/2}X`; columns
    whose pivot is below :math:`10^{-10}` times the largest are dropped, so that the intercept
    shared by several margins (each margin's indicators sum to 1) does not matter, as with R's
    ``qr``.
    """
    from scipy import linalg

    blocks = []
    for col in variables:
        values = df[col]
        bad = values.isna().to_numpy()
        if bad.any():
            raise InputError(
                f"thiếu giá trị biến hiệu chỉnh / missing value of the calibration variable "
                f"{col!r}: every respondent needs a category of each calibration margin",
                file=file,
                column=col,
                rows=_source_rows(df, bad),
            )
        codes, uniques = pd.factorize(values.astype(str), sort=True)
        ind = np.zeros((len(df), len(uniques)))
        ind[np.arange(len(df)), codes] = 1.0
        blocks.append(ind)
    x = np.hstack(blocks) if blocks else np.zeros((len(df), 0))
    sqrt_d = np.sqrt(design_weights)
    a = x * sqrt_d[:, None]
    if a.shape[1]:
        q, r, _ = linalg.qr(a, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > 1e-10 * diag.max()).sum()) if diag.size else 0
        q = q[:, :rank]
    else:
        q = np.zeros((len(df), 0))
    return Calibration(
        basis=np.ascontiguousarray(q),
        factor=weights / sqrt_d,
        variables=tuple(variables),
        g=weights / design_weights,
    )
