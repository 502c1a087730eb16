"""Finding the other columns of a field file: commune, village, weight, sex, age, respondent id and
the personal columns."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas_analysis import geography, waves
from sipas_analysis.coerce import fold, to_number, to_text
from sipas_analysis.init_wave.reading import _Column, _Table
from sipas_analysis.init_wave.rules import _NAME_WORD, _PATTERNS

__all__: list[str] = []


# Commune, village, weight, sex, age, id, personal columns
# ---------------------------------------------------------------------------------------------


@dataclass
class _Role:
    key: str
    column: str | None
    how: str
    position: int | None = None


def _pattern(col: _Column, role: str) -> bool:
    texts = [fold(col.header)] + ([fold(col.label)] if col.label else [])
    return any(re.search(_PATTERNS[role], t) for t in texts)


def _texts(col: _Column) -> pd.Series:
    series = col.values
    if col.value_labels:
        labelled = series.map(lambda v: col.value_labels.get(v, None))
        series = labelled.where(labelled.notna(), series)
    return to_text(series)


def _label_keys(text: pd.Series) -> pd.Series:
    """Labels compared as the loader compares PSU labels: case, spacing and tone marks folded."""
    return text.map(lambda v: None if v is None else geography.normalize_name(v).casefold())


def _looks_like_names(col: _Column) -> str | None:
    text = _texts(col).dropna()
    if len(text) < 5 or text.nunique() < 0.5 * len(text):
        return None
    words = text.str.split()
    ok = words.map(
        lambda w: 2 <= len(w) <= 5 and all(_NAME_WORD.match(x) and x[0].isupper() for x in w)
    )
    share = float(ok.mean())
    if share < 0.9:
        return None
    return (
        f"by content: {share:.0%} of its {len(text)} values look like people's names "
        f"({text.nunique()} distinct)"
    )


def _exact_scores(names: pd.Series) -> dict[str, float]:
    """Rows whose commune name matches a vintage exactly (1) or only without the type (0.5)."""
    counts = names.dropna().value_counts()
    out = {}
    for vintage in geography.VINTAGES:
        table = geography.communes(vintage)
        full = {geography.match_key(n) for n in table["commune_name"]}
        bare = {geography.match_key(n, with_type=False) for n in table["commune_name"]}
        score = 0.0
        for name, k in counts.items():
            if geography.match_key(name) in full:
                score += k
            elif geography.match_key(name, with_type=False) in bare:
                score += 0.5 * k
        out[vintage] = score
    return out


def _find_roles(table: _Table, item_pos: set[int], vintage: str | None, n: int):
    cols = table.columns
    roles: dict[str, _Role] = {}
    notes: list[str] = []
    doubts: list[str] = []
    personal: list[_Role] = []
    for c in cols:
        if waves.is_personal_header(c.header) or (c.label and waves.is_personal_header(c.label)):
            personal.append(_Role("personal", c.header, "header pattern (personal data)", c.pos))
        elif c.pos not in item_pos and (why := _looks_like_names(c)):
            personal.append(_Role("personal", c.header, why, c.pos))
    skip = {p.position for p in personal}
    free = [c for c in cols if c.pos not in skip]

    # Commune names: the column whose values resolve in a vintage for most rows.
    best = None
    for c in free:
        if c.pos in item_pos:
            continue
        text = _texts(c)
        if text.notna().sum() == 0 or to_number(text)[0].notna().mean() > 0.5:
            continue
        counts = text.dropna().value_counts()
        rates = {}
        for v in geography.VINTAGES:
            res = geography.resolve_communes(list(counts.index), v)
            rates[v] = float(counts.to_numpy()[(res["status"] == "ok").to_numpy()].sum()) / n
        top = max(rates.values())
        score = top + (0.2 if _pattern(c, "commune") else 0.0)
        if top >= 0.5 and (best is None or score > best[0]):
            best = (score, c, rates)
    commune_names = None
    if best:
        _s, c, rates = best
        commune_names = _texts(c)
        shown = ", ".join(f"{v}: {rates[v]:.0%}" for v in geography.VINTAGES)
        roles["commune"] = _Role(
            "commune",
            c.header,
            f"content: names resolve to communes ({shown} of rows)"
            + ("; header pattern" if _pattern(c, "commune") else ""),
            c.pos,
        )
    # Commune codes: a numeric column of GSO codes.
    code_scores = {}
    for c in free:
        if c.pos in item_pos or c.value_labels:
            continue
        num = to_number(c.values)[0]
        if num.notna().mean() < 0.9:
            continue
        shares = {
            v: float(num.isin(geography.communes(v)["commune_code"]).mean())
            for v in geography.VINTAGES
        }
        if max(shares.values()) >= 0.9:
            roles["commune_code"] = _Role(
                "commune_code",
                c.header,
                "content: GSO commune codes ("
                + ", ".join(f"{v}: {shares[v]:.0%}" for v in geography.VINTAGES)
                + " of rows)",
                c.pos,
            )
            code_scores = shares
            break

    # Vintage.
    guessed = None
    code_doubt = False
    if commune_names is not None:
        scores = _exact_scores(commune_names)
        guessed = max(scores, key=scores.get) if max(scores.values()) > 0 else None
        basis = ", ".join(f"{v}: {scores[v]:g}" for v in geography.VINTAGES)
        basis = f"commune names matching exactly (bare name = ½ row) — {basis}"
    elif code_scores:
        codes = to_number(cols[roles["commune_code"].position].values)[0]
        cover = {}  # share of the vintage's communes present in the file
        for v in geography.VINTAGES:
            known = geography.communes(v)["commune_code"]
            cover[v] = codes[codes.isin(known)].nunique() / len(known)
        guessed = max(code_scores, key=lambda v: (code_scores[v], cover[v]))
        basis = "commune codes: " + ", ".join(
            f"{v}: {code_scores[v]:.0%} of rows, {cover[v]:.0%} of its communes"
            for v in code_scores
        )
        if len({code_scores[v] for v in code_scores}) == 1 and vintage is None:
            code_doubt = True
    if vintage is None:
        vintage_how = f"guessed from {basis}" if guessed else "not found: set it by hand"
        vintage = guessed
        if code_doubt:
            vintage_how = f"KIỂM TRA / CHECK: {vintage_how}"
            doubts.append(
                "mã xã có ở cả hai địa giới: xác nhận bằng --vintage / the commune codes exist "
                f"in both boundary vintages (guessed {guessed} from coverage): confirm with "
                "--vintage"
            )
    else:
        vintage_how = "given on the command line"
        if guessed and guessed != vintage:
            vintage_how += f" (the commune names fit {guessed} better: {basis})"
            notes.append(
                f"địa giới {vintage} được chỉ định nhưng tên xã khớp {guessed} hơn / vintage "
                f"{vintage} given but the commune names fit {guessed} better ({basis})"
            )

    taken = {r.position for r in roles.values()} | skip

    def pick(role: str, test) -> None:
        for c in free:
            if c.pos in taken or (c.pos in item_pos and role not in ("sex", "age", "urban_rural")):
                continue
            if _pattern(c, role):
                why = test(c)
                if why:
                    roles[role] = _Role(role, c.header, f"header pattern; {why}", c.pos)
                    taken.add(c.pos)
                    return

    def village_test(c):
        text = _texts(c)
        k = _label_keys(text).nunique()  # "Ấp 1" = "ấp 1", as the loader takes them
        if k == 0 or k > max(5, n / 5) or to_number(text)[0].notna().mean() > 0.5:
            return None
        return f"content: {k} distinct labels"

    def weight_test(c):
        num, bad = to_number(c.values)
        if num.notna().mean() < 0.9 or bad.any():
            return None
        ok = np.isfinite(num.dropna()) & (num.dropna() > 0)
        if not ok.all():
            return None
        return f"content: positive numbers {num.min():g}–{num.max():g}"

    def coded_test(valid_text: dict[str, int]):
        def test(c):
            text = _texts(c).dropna()
            if text.empty:
                return None
            num = to_number(text)[0]
            mapped = text.str.lower().map(valid_text)
            codes = num.where(num.notna(), mapped)
            vals = set(codes.dropna().astype(int))
            if codes.notna().mean() >= 0.95 and vals <= {1, 2, 98, 99}:
                return f"content: codes {sorted(vals)}"
            return None

        return test

    def age_test(c):
        num = to_number(c.values)[0].dropna()
        if num.empty or not (num == num.round()).all():
            return None
        real = num[~num.isin([98, 99])]
        if real.between(18, 110).mean() >= 0.95 and real.nunique() > 8:
            return f"content: ages {int(real.min())}–{int(real.max())}"
        if real.isin([1, 2, 3, 4, 5, 6]).all():
            return "coded"
        return None

    pick("village", village_test)
    pick("weight", weight_test)
    pick("sex", coded_test({"nam": 1, "nữ": 2, "nu": 2}))
    pick("urban_rural", coded_test({"thành thị": 1, "nông thôn": 2, "đô thị": 1}))
    pick("age", age_test)
    pick("strata", lambda c: f"content: {_texts(c).nunique()} values")
    pick("psu", lambda c: f"content: {_texts(c).nunique()} values")

    # Respondent id: unique values, header pattern preferred ("Mã phiếu" before "STT").
    ids = []
    for c in free:
        if c.pos in taken or c.pos in item_pos:
            continue
        text = _texts(c)
        if text.notna().all() and text.nunique() == n:
            folded = fold(c.header)
            rank = 0 if re.search(r"\b(ma|so) ?phieu\b|\bid\b", folded) else 1
            rank += 0 if _pattern(c, "respondent_id") else 2
            ids.append((rank, c))
    if ids:
        ids.sort(key=lambda t: (t[0], t[1].pos))
        rank, c = ids[0]
        how = "unique values" + ("; header pattern" if rank < 2 else "")
        roles["respondent_id"] = _Role("respondent_id", c.header, how, c.pos)
        taken.add(c.pos)
    return roles, personal, vintage, vintage_how, notes, doubts


# ---------------------------------------------------------------------------------------------
