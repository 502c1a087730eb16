"""Matching the instrument's items to the file's columns: question numbers, similarity of wording,
valid codes and value labels (:class:`ItemMatch`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sipas_analysis.coerce import fold, to_number, to_text
from sipas_analysis.errors import SipasError
from sipas_analysis.init_wave.reading import _Column, _Table
from sipas_analysis.init_wave.rules import (
    _QNUM,
    CUT_HEADER_MIN,
    MATCH_MARGIN,
    MATCH_THRESHOLD,
    SHOW_CANDIDATE,
    WORDING_CONFLICT,
)

__all__ = ["ItemMatch", "question_number", "similarity"]


# Matching items
# ---------------------------------------------------------------------------------------------


def question_number(text: object) -> tuple[str | None, str]:
    """Question number at the start of a header, and the wording after it.

    Examples
    --------
    >>> question_number("Câu 9.12. Chính sách về an sinh xã hội phù hợp")
    ('9.12', 'chinh sach ve an sinh xa hoi phu hop')
    >>> question_number("C9_12"), question_number("q10_1")[0], question_number("Tuổi")[0]
    (('9.12', ''), '10.1', None)
    """
    folded = fold(text)
    m = _QNUM.match(folded)
    if not m:
        return None, folded
    number = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
    return number, folded[m.end() :].strip()


def similarity(header: str, wording: str) -> float:
    """Similarity (0–1) of two folded texts; a long header is also compared as a cut prefix.

    Examples
    --------
    >>> round(similarity("chinh sach ve an sinh xa hoi phu hop gom", "chinh sach ve an sinh xa "
    ...                  "hoi phu hop gom cac quy dinh ve bao hiem xa hoi"), 2)   # a cut header
    0.98
    """
    if not header or not wording:
        return 0.0
    sm = difflib.SequenceMatcher(None, header, wording, autojunk=False)
    best = sm.ratio() if sm.real_quick_ratio() > 0.3 else 0.0
    if len(header) >= CUT_HEADER_MIN and len(header) < len(wording):
        sm2 = difflib.SequenceMatcher(None, header, wording[: len(header) + 2], autojunk=False)
        if sm2.real_quick_ratio() > best:
            best = max(best, sm2.ratio())
    return float(best)


@dataclass
class ItemMatch:
    """How one instrument item was matched to a column of the file.

    ``status``: ``matched``, ``ambiguous``, ``unmatched``. ``column`` is the header (or variable
    name) to write in the config; ``how`` says how it was found; ``candidates`` lists
    ``(header, score)`` of the other plausible columns.
    """

    code: str
    role: str
    question: str | None
    status: str
    column: str | None = None
    how: str = ""
    candidates: list[tuple[str, float]] = field(default_factory=list)
    position: int | None = None


def _codes_ok(col: _Column, valid: tuple, missing: set[int]) -> tuple[bool, str]:
    """Are the column's values the item's codes (or missing codes)?"""
    num, _bad = to_number(col.values)
    text = to_text(col.values)
    present = text.notna()
    if not present.any():
        return True, "empty column"
    allowed = {float(v) for v in valid} | {float(m) for m in missing}
    ok = num.isin(list(allowed))
    share = float(ok[present].mean())
    if share >= 0.95:
        return True, ""
    bad = sorted({str(v) for v in text[present & ~ok]})[:5]
    return False, f"values outside the item's codes ({', '.join(bad)})"


def _labels_differ(col: _Column, inst, code: str) -> str | None:
    """SPSS/Stata value labels that contradict the instrument's labels of the same codes."""
    if not col.value_labels:
        return None
    try:
        ours = inst.value_labels(code)
    except SipasError:
        return None
    diffs = []
    for k, lab in col.value_labels.items():
        try:
            key = int(float(k))
        except (TypeError, ValueError):
            continue
        if key in ours and similarity(fold(lab), fold(ours[key])) < 0.6:
            diffs.append(f"{key}={lab!r} (instrument: {ours[key]!r})")
    return "; ".join(diffs[:3]) if diffs else None


def _match_items(table: _Table, inst) -> list[ItemMatch]:
    items = inst.items.reset_index(drop=True)
    miss_default = {int(m) for m in (98, 99)}
    cols = table.columns
    keys = []
    for c in cols:
        hn, ht = question_number(c.header)
        ln, lt = question_number(c.label) if c.label else (None, "")
        keys.append((hn, ht, ln, lt))
    used: set[int] = set()
    out: dict[str, ItemMatch] = {}
    wordings = {str(r.code): fold(r.label_vi) for r in items.itertuples(index=False)}

    def text_sim(j: int, code: str) -> tuple[float, str]:
        _hn, ht, _ln, lt = keys[j]
        full_h = fold(cols[j].header)
        s_h = max(similarity(ht, wordings[code]), similarity(full_h, wordings[code]))
        s_l = similarity(lt, wordings[code]) if lt else 0.0
        return (s_h, "header") if s_h >= s_l else (s_l, "variable label")

    # 1. Question numbers.
    for r in items.itertuples(index=False):
        code = str(r.code)
        q, _rest = question_number(r.question) if r.question else (None, "")
        if not q:
            continue
        hits = [j for j, k in enumerate(keys) if k[0] == q or k[2] == q]
        if not hits:
            continue
        where = "header" if any(keys[j][0] == q for j in hits) else "variable label"
        if len(hits) == 1:
            j = hits[0]
            text = keys[j][1] if keys[j][0] == q else keys[j][3]
            wording_from = where
            if not text and keys[j][3]:
                text = keys[j][3]  # a short variable name: its label carries the wording
                wording_from = "variable label"
            sim, _ = text_sim(j, code)
            if (
                r.confidence != "reconstructed"
                and len(text) >= 15
                and similarity(text, wordings[code]) < WORDING_CONFLICT
                and sim < WORDING_CONFLICT
            ):
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "ambiguous",
                    None,
                    f"question number {q} ({where}) but the wording differs (similarity {sim:.2f})",
                    [(cols[j].header, sim)],
                    None,
                )
                continue
            how = f"question number {q} ({where})"
            if text:
                how += f", wording similarity {sim:.2f}"
                how += f" ({wording_from})" if wording_from != where else ""
            out[code] = ItemMatch(code, r.role, r.question, "matched", cols[j].header, how, [], j)
            used.add(j)
        else:
            scored = sorted(((text_sim(j, code)[0], j) for j in hits), reverse=True)
            (s1, j1), (s2, _j2) = scored[0], scored[1]
            cands = [(cols[j].header, s) for s, j in scored]
            if s1 - s2 >= 0.1:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "matched",
                    cols[j1].header,
                    f"question number {q} ({len(hits)} columns), wording similarity {s1:.2f}",
                    cands[1:],
                    j1,
                )
                used.add(j1)
            else:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "ambiguous",
                    None,
                    f"question number {q} in {len(hits)} columns",
                    cands,
                )

    # 2. Wording, then variable labels: best pairs first, one column per item.
    rest = [r for r in items.itertuples(index=False) if str(r.code) not in out]
    pairs = []
    for r in rest:
        code = str(r.code)
        for j in range(len(cols)):
            if j in used:
                continue
            s, where = text_sim(j, code)
            if s >= 0.4:
                pairs.append((s, code, j, where))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    by_item: dict[str, list[tuple[float, int, str]]] = {}
    for s, code, j, where in pairs:
        by_item.setdefault(code, []).append((s, j, where))
    taken: dict[str, tuple[float, int, str]] = {}
    for s, code, j, where in pairs:
        if s < MATCH_THRESHOLD or code in taken or j in used:
            continue
        taken[code] = (s, j, where)
        used.add(j)
    for r in rest:
        code = str(r.code)
        cands = by_item.get(code, [])
        shown = [(cols[j].header, s) for s, j, _w in cands[:3] if s >= SHOW_CANDIDATE]
        if code in taken:
            s, j, where = taken[code]
            others = [c for c in cands if c[1] != j]
            second = others[0][0] if others else 0.0
            if s - second < MATCH_MARGIN:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "ambiguous",
                    None,
                    f"two columns about as similar ({s:.2f} / {second:.2f}, {where})",
                    shown,
                )
                used.discard(j)
            else:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "matched",
                    cols[j].header,
                    f"wording similarity {s:.2f} ({where})",
                    [(cols[jj].header, ss) for ss, jj, _w in others[:2]],
                    j,
                )
        else:
            out[code] = ItemMatch(code, r.role, r.question, "unmatched", None, "", shown)

    # 3. Values: the column must hold the item's codes; file value labels must agree.
    for r in items.itertuples(index=False):
        m = out[str(r.code)]
        if m.status != "matched" or m.position is None:
            continue
        col = cols[m.position]
        miss = miss_default | {int(x) for x in (r.missing_codes or ())}
        if r.answer_type == "continuous":
            continue
        ok, why = _codes_ok(col, tuple(r.valid_codes or ()), miss)
        differ = _labels_differ(col, inst, str(r.code))
        if not ok or differ:
            m.status = "ambiguous"
            m.candidates = [(col.header, 1.0)]
            m.how += "; " + (why if not ok else f"the file's value labels differ: {differ}")
            used.discard(m.position)
            m.position = None
            m.column = None
    return [out[str(c)] for c in items["code"]]


# ---------------------------------------------------------------------------------------------
