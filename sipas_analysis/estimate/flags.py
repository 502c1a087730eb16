"""The flags of an estimate cell (small n, a single PSU, few degrees of freedom, ...): their order,
:func:`flag_tokens` and :func:`inherit_flags` (a composite inherits the flags of its members)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["FLAG_ORDER", "flag_tokens", "inherit_flags"]


# --------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------
def _flags(parts: list[tuple[np.ndarray, str]], size: int) -> np.ndarray:
    out = np.full(size, "", dtype=object)
    for mask, name in parts:
        mask = np.asarray(mask, dtype=bool).ravel()
        out = np.where(mask, np.where(out == "", name, out + ";" + name), out)
    return np.where(out == "", "ok", out)


#: Order in which flags are listed on composites (own and inherited flags merged).
FLAG_ORDER = (
    "empty",
    "suppressed",
    "small_n",
    "single_psu",
    "degenerate",
    "zero_variance",
    "low_df",
    "partial",
    "incomplete",
)


def flag_tokens(flag: object) -> list[str]:
    """The flags in a ``;``-joined flag string (``ok``, blank and NA give none).

    Parameters
    ----------
    flag : str or NA
        A ``flag`` value of an estimates table, e.g. ``"small_n;partial"``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> flag_tokens("small_n;partial"), flag_tokens("ok")
    (['small_n', 'partial'], [])
    """
    if flag is None or (isinstance(flag, float) and np.isnan(flag)) or flag is pd.NA:
        return []
    return [f for f in str(flag).split(";") if f and f != "ok"]


def inherit_flags(
    own: Sequence[object],
    member_flags: Sequence[object],
    parent_of_member: Sequence[int],
    *,
    empty_as: str | None = "partial",
) -> np.ndarray:
    """Each composite's own flags merged with the union of its members' flags.

    Parameters
    ----------
    own : sequence of str, shape (m,)
        Flags of the m composites (``ok`` or ``;``-joined names).
    member_flags : sequence of str, shape (r,)
        Flags of the r member rows.
    parent_of_member : sequence of int, shape (r,)
        Position (0 .. m-1) of the composite each member row belongs to; -1 = none.
    empty_as : str or None
        What a member's ``empty`` (no valid answer in the domain) becomes on the composite:
        ``"partial"`` (default: the composite is the mean of fewer members), None to drop it.
        It is never passed on as ``empty``, since the composite has an estimate. A composite
        that is itself ``empty`` gets no ``partial`` from it.

    Returns
    -------
    numpy.ndarray of str, shape (m,)
        ``;``-joined flags in :data:`FLAG_ORDER` (other names after, alphabetically), ``ok``
        when none.

    Notes
    -----
    A member's ``small_n`` or ``suppressed`` is kept on the composite: it says the composite
    rests on an item with few answers. Whether the composite itself may be shown is decided by
    its own ``n`` (the ``flag`` column of the estimates table).

    Examples
    --------
    >>> inherit_flags(["ok", "small_n"], ["partial", "low_df", "empty"], [0, 0, 1]).tolist()
    ['low_df;partial', 'small_n;partial']
    """
    own_t = [set(flag_tokens(f)) for f in own]
    for f, k in zip(member_flags, parent_of_member, strict=True):
        k = int(k)
        if k < 0:
            continue
        for tok in flag_tokens(f):
            if tok == "empty":
                if empty_as is None or "empty" in own_t[k]:
                    continue
                tok = empty_as
            own_t[k].add(tok)
    rank = {name: i for i, name in enumerate(FLAG_ORDER)}
    out = np.empty(len(own_t), dtype=object)
    for i, toks in enumerate(own_t):
        ordered = sorted(toks, key=lambda t: (rank.get(t, len(rank)), t))
        out[i] = ";".join(ordered) if ordered else "ok"
    return out
