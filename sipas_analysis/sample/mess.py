"""The planted mess of real field files: commune names spelled in other ways (old-style tone
marks, lower-case prefixes, extra spaces), invalid rows, duplicates and filter violations."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sipas_analysis import geography
from sipas_analysis.errors import ConfigError

__all__: list[str] = []


_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook above, tilde, dot below
_NEW_STYLE = re.compile(rf"(?<![qQ])([oOuU])([{_TONES}])([aAeEyY])(?![^\W\d_])")


# ---------------------------------------------------------------------------------------------
# Mess
# ---------------------------------------------------------------------------------------------


def _old_style_tones(name: str) -> str:
    """ "Hòa" -> "Hoà", "Thủy" -> "Thuỷ": the other tone-mark convention (result in NFC)."""
    text = unicodedata.normalize("NFD", name)
    text = _NEW_STYLE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), text)
    return unicodedata.normalize("NFC", text)


def _lower_prefix(name: str) -> str:
    for prefix in ("Thị trấn", "Phường", "Xã"):
        if name.startswith(prefix + " "):
            return prefix.lower() + name[len(prefix) :]
    return name


def _extra_spaces(name: str) -> str:
    parts = name.split(" ")
    if len(parts) > 1:
        parts[0] = parts[0] + " "
    return " " + " ".join(parts) + "  "


@dataclass
class _Mess:
    rows: list = field(default_factory=list)  # (kind, position, column, value, note)

    def add(self, kind: str, pos: int, column: str, value: object, note: str = "") -> None:
        self.rows.append((kind, int(pos), column, value, note))


def _free_rows(
    n: int, used: set[int], rng, count: int, allowed: np.ndarray | None = None
) -> list[int]:
    pool = np.setdiff1d(
        np.arange(n) if allowed is None else allowed, np.fromiter(used, int, len(used))
    )
    if len(pool) < count:
        raise ConfigError(f"sample spec: not enough rows to plant {count} problems")
    pick = sorted(int(i) for i in rng.choice(pool, size=count, replace=False))
    used.update(pick)
    return pick


def _plant_mess(df: pd.DataFrame, items: pd.DataFrame, wave: dict, layout: str, rng):
    """Apply the wave's planted problems to the clean table; return (messy table, log)."""
    mess = wave.get("mess", {}) or {}
    out = df.copy()
    log = _Mess()
    used: set[int] = set()
    n = len(out)
    has_names = layout == "vietnamese"
    index_items = items[items["role"].isin(["satisfaction", "indicator"])]
    if "name_variants" in mess:
        if not has_names:
            raise ConfigError(f"wave {wave['id']}: name_variants needs commune names (layout)")
        nv = mess["name_variants"]
        names = out["commune_name"].tolist()
        for kind, func in (
            ("hoa_old_style", _old_style_tones),
            ("lower_prefix", _lower_prefix),
            ("extra_spaces", _extra_spaces),
            ("nfd", lambda s: unicodedata.normalize("NFD", s)),
        ):
            share = float(nv.get(kind, 0.0))
            draw = rng.uniform(size=n) < share
            for i in np.flatnonzero(draw):
                new = func(names[i])
                if new != names[i]:
                    names[i] = new
                    log.add(f"name_{kind}", i, "commune", names[i], "spelling variant (valid)")
        out["commune_name"] = names
    if "out_of_range" in mess:
        spec_o = mess["out_of_range"]
        filters = set(items["filter_item"].dropna())
        coded = index_items[
            [
                len(v) > 0 and max(v) < float(spec_o["value"]) and c not in filters
                for c, v in zip(index_items["code"], index_items["valid_codes"], strict=True)
            ]
        ]
        vals = out[coded["code"]]
        answered = vals.notna() & vals.isin([float(c) for v in coded["valid_codes"] for c in v])
        allowed = np.flatnonzero(answered.any(axis=1).to_numpy())
        for i in _free_rows(n, used, rng, int(spec_o["count"]), allowed):
            cols = [c for c in coded["code"] if answered.iloc[i][c]]
            col = cols[int(rng.integers(len(cols)))]
            out.loc[out.index[i], col] = float(spec_o["value"])
            log.add("out_of_range", i, col, spec_o["value"], "answer outside the valid codes")
    if mess.get("duplicate_id"):
        for i in _free_rows(n, used, rng, int(mess["duplicate_id"]), np.arange(1, n)):
            j = int(rng.integers(0, i))
            original = out["respondent_id"].iloc[j]
            out.loc[out.index[i], "respondent_id"] = original
            log.add("duplicate_id", i, "respondent_id", original, f"same id as row position {j}")
            log.add("duplicate_id_first", j, "respondent_id", original, "first row with this id")
            used.add(j)
    if "unknown_commune" in mess:
        if not has_names:
            raise ConfigError(f"wave {wave['id']}: unknown_commune needs commune names (layout)")
        u = mess["unknown_commune"]
        for i in _free_rows(n, used, rng, int(u["count"])):
            out.loc[out.index[i], "commune_name"] = u["name"]
            log.add("unknown_commune", i, "commune", u["name"], "not a commune of the survey areas")
    if "old_vintage_commune" in mess:
        u = mess["old_vintage_commune"]
        for i in _free_rows(n, used, rng, int(u["count"])):
            out.loc[out.index[i], "commune_name"] = u["name"]
            log.add(
                "commune_outside_vintage",
                i,
                "commune",
                u["name"],
                "pre-2025 commune in a 2025 wave",
            )
    for kind, value in (("missing_weight", np.nan), ("zero_weight", 0.0)):
        if mess.get(kind):
            for i in _free_rows(n, used, rng, int(mess[kind])):
                out.loc[out.index[i], "weight"] = value
                log.add(kind, i, "weight", "" if np.isnan(value) else value, "weight must be > 0")
    if mess.get("psu_two_strata"):
        # only rows of communes whose name is unique across areas (so the name still resolves)
        ambiguous = out["commune_name"].map(geography.normalize_name).duplicated(keep=False) & (
            out.groupby(out["commune_name"].map(geography.normalize_name))["area_code"].transform(
                "nunique"
            )
            > 1
        )
        allowed = np.flatnonzero(~ambiguous.to_numpy())
        for i in _free_rows(n, used, rng, int(mess["psu_two_strata"]), allowed):
            own = out["stratum"].iloc[i]
            strata = sorted(s for s in out["stratum"].unique() if s != own)
            new = strata[int(rng.integers(len(strata)))]
            out.loc[out.index[i], "stratum"] = new
            log.add(
                "psu_two_strata", i, "stratum", new, f"PSU {out['psu'].iloc[i]} is in stratum {own}"
            )
    if mess.get("filter_violation"):
        governed = items[items["filter_item"].notna()]
        if governed.empty:
            raise ConfigError(
                f"wave {wave['id']}: filter_violation but the instrument has no filters"
            )
        fitem = governed["filter_item"].iloc[0]
        fvalues = tuple(governed["filter_values"].iloc[0])
        kids = governed[governed["filter_item"] == fitem]["code"].tolist()
        allowed = np.flatnonzero(out[fitem].notna() & ~out[fitem].isin(fvalues))
        for i in _free_rows(n, used, rng, int(mess["filter_violation"]), allowed):
            for _, kid in governed[governed["filter_item"] == fitem].iterrows():
                good = kid["top_box"][0] if kid["top_box"] is not None else kid["valid_codes"][0]
                out.loc[out.index[i], kid["code"]] = float(good)
            log.add(
                "filter_violation",
                i,
                fitem,
                int(out[fitem].iloc[i]),
                f"{len(kids)} items ({kids[0]} ...) answered although {fitem} = "
                f"{int(out[fitem].iloc[i])} (not in {list(fvalues)})",
            )
    log_df = pd.DataFrame(log.rows, columns=["kind", "position", "column", "value", "note"])
    replaced = log_df.loc[
        log_df["kind"].isin(["unknown_commune", "commune_outside_vintage"]), "position"
    ]
    stale = log_df["kind"].str.startswith("name_") & log_df["position"].isin(replaced)
    log_df = log_df[~stale].reset_index(drop=True)
    return out, log_df
