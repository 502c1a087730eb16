"""The sample specification (``sample_spec.yaml``), the seeded generator of each wave and the
items a wave's instrument asks in its year, with the planted base levels and effects."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sipas_analysis.errors import ConfigError

__all__ = ["SPEC_PATH", "load_spec"]


#: The specification file of the sample data.
SPEC_PATH = Path(__file__).resolve().parents[1] / "sample_spec.yaml"


# ---------------------------------------------------------------------------------------------
# Specification
# ---------------------------------------------------------------------------------------------


def load_spec(path: str | os.PathLike[str] | None = None) -> dict:
    """Read the sample specification (``sample_spec.yaml`` by default).

    Parameters
    ----------
    path : path-like, optional
        Another specification file of the same format.

    Returns
    -------
    dict
        The parsed specification.

    Raises
    ------
    ConfigError
        If the file is missing or lacks a required section.

    Examples
    --------
    >>> spec = load_spec()
    >>> [w["id"] for w in spec["waves"]][:2]
    ['sipas-2021', 'sipas-2022']
    """
    path = Path(path) if path is not None else SPEC_PATH
    if not path.exists():
        raise ConfigError(f"sample specification not found: {path.name}")
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    for key in ("seed", "demographics", "waves", "designs", "layouts", "sipas_truth"):
        if key not in spec:
            raise ConfigError(f"{path.name}: missing section {key!r}")
    ids = [w["id"] for w in spec["waves"]]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path.name}: duplicate wave ids in {ids}")
    return spec


def _wave_rng(seed: int, wave_id: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(wave_id.encode())]))


# ---------------------------------------------------------------------------------------------
# Instruments: the items of a wave
# ---------------------------------------------------------------------------------------------


def _wave_items(instrument: Any, year: int) -> pd.DataFrame:
    """Items of the instrument in use in ``year``, in definition order, with their node path."""
    items = instrument.items.sort_values("order").reset_index(drop=True)
    lo = items["valid_from"].astype("Float64").fillna(-np.inf).astype(float)
    hi = items["valid_to"].astype("Float64").fillna(np.inf).astype(float)
    items = items.loc[(lo <= year) & (year <= hi)].reset_index(drop=True)
    parent_of = dict(zip(instrument.nodes["code"], instrument.nodes["parent"], strict=True))

    def path(node: str) -> list[str]:
        out = []
        while node is not None and not (isinstance(node, float) and np.isnan(node)):
            out.append(node)
            node = parent_of.get(node)
        return out

    items["path"] = [path(p) for p in items["parent"]]
    return items


def _lookup_base(base: dict, path: list[str], code: str) -> float:
    for node in [code, *path]:
        if node in base:
            return float(base[node])
    if "default" not in base:
        raise ConfigError(f"sample spec: no base truth for {code} (path {path}) and no default")
    return float(base["default"])


def _effect_applies(effect: dict, wave: str, path: list[str], code: str) -> bool:
    if str(wave) not in [str(w) for w in effect.get("waves", [])]:
        return False
    nodes = effect.get("nodes", ["all"])
    return "all" in nodes or code in nodes or any(n in nodes for n in path)
