"""The loaded wave: the canonical table built from the source, :func:`read_wave`, :func:`validate_wave`."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas_analysis import geography
from sipas_analysis import validate as checks
from sipas_analysis.coerce import fold as _fold
from sipas_analysis.coerce import to_number, to_text
from sipas_analysis.disclosure import PERSONAL_VALUE
from sipas_analysis.waves.columns import (
    AGE_BANDS,
    AGE_MAX,
    AGE_MIN,
    DERIVED_STRATA,
    LABEL_CODES,
    LABELLED_COLUMNS,
    band_name,
    canonical_code,
    header_key,
    is_personal_header,
)
from sipas_analysis.waves.config import (
    WaveConfig,
    find_config_for,
    load_instrument,
    load_wave_config,
)
from sipas_analysis.waves.sources import (
    HeaderIndex,
    Source,
    match_columns,
    read_source,
    wanted_headers,
)

__all__ = [
    "AccountingError",
    "LoadedWave",
    "read_wave",
    "validate_wave",
]

# ---------------------------------------------------------------------------------------------
# The loaded wave
# ---------------------------------------------------------------------------------------------


def _age_band(age: pd.Series) -> pd.Series:
    out = pd.Series(None, index=age.index, dtype=object)
    for band, lo, hi in AGE_BANDS:
        out[(age >= lo) & (age <= hi)] = band
    return out


class AccountingError(RuntimeError):
    """Internal error: rows read != rows kept + rows excluded (a bug, never a data problem)."""


@dataclass
class LoadedWave:
    """A wave read through its config.

    Attributes
    ----------
    config : WaveConfig
    respondents : DataFrame
        The canonical respondent table (kept rows only).
    exclusions : DataFrame
        ``source_row, respondent_id, checks, reason_vi, reason_en``: one row per excluded source row.
    problems : DataFrame
        The full problem list (see :func:`sipas_analysis.validate.problems_frame`).
    accounting : dict
        ``rows_read, rows_kept, rows_excluded, blank_rows`` and ``missing_codes`` (DataFrame
        ``item, column, code, count``: missing codes and blanks recoded to NA, over all rows read).
    value_labels : dict
        Canonical column -> {code: label} from the SPSS/Stata file (empty for csv/xlsx).
    encoding : str or None
        Encoding used for a CSV file.
    """

    config: WaveConfig
    respondents: pd.DataFrame
    exclusions: pd.DataFrame
    problems: pd.DataFrame
    accounting: dict[str, Any]
    value_labels: dict[str, dict] = field(default_factory=dict)
    encoding: str | None = None
    design_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        """True when the problem list contains at least one error."""
        return bool((self.problems["severity"] == "error").any())

    @property
    def blocking_errors(self) -> pd.DataFrame:
        """The errors that stop a run: file- and design-level ones (they exclude no rows).

        See :func:`sipas_analysis.validate.blocking_errors`.
        """
        return checks.blocking_errors(self.problems)


def read_wave(config_or_path: WaveConfig | str | Path) -> LoadedWave:
    """Read a survey wave through its config into the canonical respondent table, with checks.

    Parameters
    ----------
    config_or_path : WaveConfig, or path to a wave config (or to a data file with a config next to
        it or in ``waves/``, see :func:`find_config_for`)

    Returns
    -------
    LoadedWave
        ``respondents`` (canonical table), ``exclusions``, ``problems``, ``accounting``.

    Raises
    ------
    ConfigError
        Bad config.
    InputError
        The data file cannot be read at all (wrong format, undecodable text, missing sheet).
    AccountingError
        Internal: rows read != kept + excluded.

    Notes
    -----
    Policy (see :mod:`sipas_analysis.validate`): an *error* is a problem with identifiable rows,
    which are moved to ``exclusions`` with the reason, or a problem with the file/design as a whole
    (missing column, empty stratum); a *warning* keeps the row (an unusable demographic value is
    set to NA); *info* records recoding (missing codes -> NA) and dropped personal columns.
    Accounting: ``rows_read == rows_kept + rows_excluded`` (blank lines are not rows).

    Examples
    --------
    >>> wave = read_wave("waves/sipas-2024.yaml")       # doctest: +SKIP
    >>> wave.respondents.columns[:3].tolist()           # doctest: +SKIP
    ['respondent_id', 'wave', 'survey']
    """
    if isinstance(config_or_path, WaveConfig):
        cfg = config_or_path
    else:
        path = Path(config_or_path)
        if path.suffix.lower() not in (".yaml", ".yml"):
            path = find_config_for(path)
        cfg = load_wave_config(path)
    instrument = load_instrument(None, cfg.instrument)
    src = read_source(cfg)
    return _build(cfg, instrument, src)


def validate_wave(config_or_path: WaveConfig | str | Path) -> pd.DataFrame:
    """Read a wave and return its full problem list (every check of :mod:`sipas_analysis.validate`).

    Parameters
    ----------
    config_or_path : WaveConfig or path of a wave config

    Returns
    -------
    pandas.DataFrame
        ``severity, check, file, column, rows, values, message_vi, message_en, count`` (see
        :meth:`sipas_analysis.validate.ProblemLog.problems_frame`).

    Raises
    ------
    SipasError
        The config is bad or the file cannot be read at all.

    Examples
    --------
    >>> validate_wave("waves/sipas-2024.yaml").query("severity == 'error'")  # doctest: +SKIP
    """
    return read_wave(config_or_path).problems


#: Values that are personal data wherever they appear (after removing spaces, dots, dashes and
#: brackets): Vietnamese phone numbers, 9- and 12-digit ID card numbers, e-mail addresses.
_PERSONAL_VALUE = PERSONAL_VALUE  # one definition, in sipas_analysis.disclosure
_PERSONAL_VALUE_SHARE = 0.5  # share of a column's non-blank values that makes it personal
_NUMERIC_KEYS = ("columns.respondent_id", "columns.commune_code", "design.weight", "design.fpc")


def _personal_by_values(series: pd.Series) -> bool:
    """True when most non-blank text values of a column are phone / ID numbers or e-mails."""
    texts = series.dropna()
    texts = texts[texts.map(lambda v: isinstance(v, str | int) and not isinstance(v, bool))]
    if texts.empty:
        return False
    uniq = pd.Series(texts.astype(str).unique())
    cleaned = uniq.str.replace(r"[\s.\-()]", "", regex=True)
    emails = uniq.str.strip().str.fullmatch(_PERSONAL_VALUE.pattern.split("|")[-1])
    hit = dict(zip(uniq, cleaned.str.fullmatch(_PERSONAL_VALUE) | emails, strict=True))
    share = texts.astype(str).map(hit).mean()
    return bool(share >= _PERSONAL_VALUE_SHARE)


def _personal_positions(src: Source, cfg: WaveConfig, wanted: dict[str, str]) -> list[int]:
    """Columns that are personal data: by config, by header or label, or by their values."""
    personal_keys = {header_key(p) for p in cfg.personal_columns}
    by_name = [
        i
        for i, h in enumerate(src.headers)
        if header_key(h) in personal_keys
        or is_personal_header(h)
        or (src.labels[i] and is_personal_header(src.labels[i]))
    ]
    index = HeaderIndex(src.headers, src.labels, by_name)
    numeric = {p for k in _NUMERIC_KEYS if k in wanted for p in index.exact(wanted[k])}
    numeric |= {p for k, h in wanted.items() if k.startswith("items.") for p in index.exact(h)}
    by_value = [
        i
        for i in range(len(src.headers))
        if i not in by_name and i not in numeric and _personal_by_values(src.frame[i])
    ]
    return sorted(by_name + by_value)


def _build(cfg: WaveConfig, instrument, src: Source) -> LoadedWave:
    file_label = cfg.file.name
    log = checks.ProblemLog(file_label, src.source_row, header_row=src.header_row)
    n = len(src.frame)
    wanted = wanted_headers(cfg)

    # 1. Personal columns: dropped before anything else looks at the data.
    personal_pos = _personal_positions(src, cfg, wanted)
    if personal_pos:
        src.frame = src.frame.drop(columns=personal_pos)
    personal_names = [src.headers[i] or src.labels[i] or f"#{i + 1}" for i in personal_pos]
    checks.check_personal_dropped(log, personal_names)
    present_personal = {header_key(src.headers[i]) for i in personal_pos}
    absent_personal = [p for p in cfg.personal_columns if header_key(p) not in present_personal]
    if cfg.file_link:
        log.add(
            "info",
            "file_symlink",
            None,
            f"tệp dữ liệu được mở qua liên kết tượng trưng (symlink): {cfg.file_link}",
            f"the data file was opened through a symbolic link: {cfg.file_link}",
            values=[cfg.file_link],
        )
    checks.check_rows_above_header(log, src.rows_above_header, src.header_row, src.sheet)
    checks.check_blank_rows(log, src.blank_rows)

    # 2. Columns: mapped headers located, missing / duplicated / extra reported.
    position, missing, duplicated, lenient, suggestions = match_columns(src, wanted, personal_pos)
    strata_spec = cfg.design.get("strata")
    derived_strata = None
    if "design.strata" in missing and str(strata_spec).casefold() in DERIVED_STRATA:
        derived_strata = str(strata_spec).casefold()
        missing.pop("design.strata")
    used = set(position.values()) | set(personal_pos)
    extra = [h for i, h in enumerate(src.headers) if i not in used and h != ""]
    unnamed = [i for i, h in enumerate(src.headers) if h == "" and i not in used]
    unnamed_nonempty = [i for i in unnamed if src.frame[i].notna().any()]
    checks.check_columns(
        log,
        missing,
        duplicated,
        extra,
        len(unnamed_nonempty),
        absent_personal,
        suggestions=suggestions,
        lenient=lenient,
    )

    def raw(key: str) -> pd.Series | None:
        pos = position.get(key)
        return None if pos is None else src.frame[pos]

    def header(key: str) -> str:
        pos = position.get(key)
        if pos is not None:
            return src.headers[pos] or src.labels[pos] or wanted.get(key, key)
        return wanted.get(key, key)

    value_labels: dict[str, dict] = {}
    for key, pos in position.items():
        if pos in src.value_labels:
            value_labels[key.split(".", 1)[1]] = src.value_labels[pos]

    out: dict[str, Any] = {}

    # 3. Respondent id, duplicates.
    if cfg.columns["respondent_id"] is None:
        # respondent_id: null -- the file has no id column: the source row number is the id.
        ids = pd.Series([str(int(r)) for r in src.source_row], dtype=object)
        checks.check_ids_from_rows(log)
    else:
        ids = (
            to_text(raw("columns.respondent_id"))
            if raw("columns.respondent_id") is not None
            else None
        )
        if ids is None:
            ids = pd.Series([None] * n, dtype=object)
        checks.check_ids(
            log, ids, header("columns.respondent_id"), "columns.respondent_id" in position
        )
    out["respondent_id"] = ids

    # 4. Communes.
    vintage = cfg.boundary_vintage
    table = geography.communes(vintage).set_index("commune_code")
    strata_text = to_text(raw("design.strata")) if raw("design.strata") is not None else None
    area_hint = None
    if strata_text is not None:
        as_num = pd.to_numeric(strata_text, errors="coerce")
        if as_num.dropna().isin(geography.areas()["area_code"]).all() and as_num.notna().any():
            area_hint = as_num
    codes, name_raw = _resolve(cfg, src, position, raw, header, area_hint, log, table)
    out["commune_code"] = codes
    out["commune_name"] = codes.map(table["commune_name"]).astype(object)
    out["area_code"] = codes.map(table["area_code"]).astype("Int64")
    out["area_name"] = codes.map(table["area_name"]).astype(object)
    checks.check_abolished(log, codes, table, cfg, header("columns.commune"), name_raw)

    # 5. Design: stratum, PSU, weight, fpc.
    has_strata = "design.strata" in position or derived_strata is not None
    strata_column = header("design.strata")
    if strata_text is not None:
        stratum = strata_text
        checks.check_missing_value(log, stratum, strata_column, "missing_stratum")
    elif derived_strata is not None:
        source = out["area_code"] if derived_strata == "area" else codes
        stratum = (
            source.astype(object)
            .where(source.notna(), None)
            .map(lambda v: None if v is None else str(v))
        )
        checks.check_derived_strata(log, derived_strata)
    else:
        stratum = pd.Series("1", index=range(n), dtype=object)
    psu_keys = [k for k in wanted if k == "design.psu" or k.startswith("design.psu[")]
    psu_column = " + ".join(header(k) for k in psu_keys) if psu_keys else header("design.psu")
    if psu_keys and all(k in position for k in psu_keys):
        # The commune part of a PSU list is the resolved commune code, not the raw text: a
        # commune spelled in several ways ("Xã Hoà Khánh" / "hòa khánh") stays one commune.
        commune_pos = {
            position[k] for k in ("columns.commune", "columns.commune_code") if k in position
        }
        code_text = (
            codes.astype(object)
            .where(codes.notna(), None)
            .map(lambda v: None if v is None else str(v))
        )
        parts = []
        for k in psu_keys:
            text = _one_spelling(log, to_text(raw(k)), header(k))
            # rows whose commune did not resolve keep their text (they are excluded anyway)
            parts.append(
                code_text.where(code_text.notna(), text) if position[k] in commune_pos else text
            )
        psu = parts[0]
        for part in parts[1:]:
            psu = (psu + " / " + part).where(psu.notna() & part.notna(), None)
        checks.check_missing_value(log, psu, psu_column, "missing_psu")
        psu = checks.check_psu_communes(log, psu, codes, psu_column, cfg.design["nest_psu"])
    else:
        psu = ids.copy()
    if cfg.design.get("certainty"):
        stratum, psu = checks.apply_certainty(
            log, stratum, psu, ids, cfg.design["certainty"], psu_column
        )
        has_strata = True
    if raw("design.weight") is not None:
        weight, bad = to_number(raw("design.weight"))
        checks.check_weights(
            log, weight, bad, to_text(raw("design.weight")), header("design.weight")
        )
    else:
        weight = pd.Series(1.0, index=range(n), dtype="float64")
        if not cfg.weight_configured:
            checks.check_weight_not_configured(log)
    out["stratum"], out["psu"], out["weight"] = stratum, psu, weight
    if cfg.design.get("fpc"):
        if raw("design.fpc") is not None:
            fpc, bad = to_number(raw("design.fpc"))
            checks.check_fpc(log, fpc, bad, to_text(raw("design.fpc")), header("design.fpc"))
        else:
            fpc = pd.Series(np.nan, index=range(n), dtype="float64")
        out["fpc"] = fpc
    village = to_text(raw("columns.village")) if raw("columns.village") is not None else None
    out["village"] = village if village is not None else pd.Series([None] * n, dtype=object)

    # 6. Demographics (warnings: bad values become NA, the row is kept).
    labels_for = {
        col: cfg.value_labels.get(col) or value_labels.get(col) or {} for col in LABELLED_COLUMNS
    }
    out["sex"] = _coded(n, raw, header, "columns.sex", "sex", labels_for["sex"], log)
    out["urban_rural"] = _coded(
        n, raw, header, "columns.urban_rural", "urban_rural", labels_for["urban_rural"], log
    )
    age, age_band = _age(n, raw, header, log, labels_for["age_band"])
    out["age"], out["age_band"] = age, age_band
    checks.check_optional_columns(
        log,
        {
            "sex": ("columns.sex" in position, out["sex"].notna().any()),
            "age_band": (
                "columns.age" in position or "columns.age_band" in position,
                pd.Series(out["age_band"]).notna().any(),
            ),
            "urban_rural": ("columns.urban_rural" in position, out["urban_rural"].notna().any()),
        },
    )

    # 7. Items: codes, missing codes, filters, value labels of the file against the instrument.
    items = instrument.items.reset_index(drop=True)
    answers: dict[str, pd.Series] = {}
    missing_rows = []
    item_headers: dict[str, str] = {}
    for row in items.itertuples(index=False):
        code = str(row.code)
        key = f"items.{code}"
        series = raw(key)
        if series is None:
            dtype = "Float64" if getattr(row, "answer_type", "") == "continuous" else "Int64"
            answers[code] = pd.Series(pd.NA, index=range(n), dtype=dtype)
            continue
        item_headers[code] = header(key)
        miss = set(cfg.missing_codes) | {int(m) for m in (row.missing_codes or ())}
        miss |= {
            int(m) for m in src.declared_missing.get(position[key], set()) if float(m) == int(m)
        }
        if code in value_labels and row.top_box:
            checks.check_scale_labels(
                log, code, header(key), value_labels[code], instrument.value_labels(code)
            )
        values, counts = checks.check_item_codes(
            log,
            code,
            header(key),
            series,
            tuple(row.valid_codes or ()),
            tuple(sorted(miss)),
            (getattr(row, "scale_min", None), getattr(row, "scale_max", None)),
            continuous=getattr(row, "answer_type", "") == "continuous",
        )
        answers[code] = values
        for c, k in counts.items():
            missing_rows.append({"item": code, "column": header(key), "code": c, "count": k})
    unmapped = [str(c) for c in items["code"] if f"items.{c}" not in wanted]
    checks.check_unmapped_items(log, unmapped, cfg.instrument)
    checks.check_filters(log, items, answers, item_headers)

    # 8. Design structure (on rows not already excluded) and the file as a whole.
    checks.check_design(log, stratum, psu, strata_column, psu_column, has_strata)
    checks.check_vintage_dates(log, cfg)
    kept = ~log.excluded_mask(n)
    checks.check_weight_limits(
        log,
        weight,
        to_text(raw("design.weight")) if raw("design.weight") is not None else None,
        header("design.weight"),
        kept,
        cfg.checks,
    )
    checks.check_respondent_count(log, int(kept.sum()), n, int(cfg.checks["min_respondents"]))
    checks.check_items_answered(
        log, answers, item_headers, {c: to_text(raw(f"items.{c}")) for c in item_headers}, kept
    )
    design_summary = checks.check_design_summary(
        log, stratum, psu, codes, kept, has_strata, psu_keys != []
    )

    # 9. Split kept / excluded and account.
    excluded = log.excluded_mask(n)
    front = {
        "respondent_id": out["respondent_id"],
        "wave": pd.Series(cfg.wave, index=range(n), dtype=object),
        "survey": pd.Series(cfg.survey, index=range(n), dtype=object),
        "instrument": pd.Series(cfg.instrument, index=range(n), dtype=object),
        "boundary_vintage": pd.Series(vintage, index=range(n), dtype=object),
        "source_row": pd.Series(src.source_row, dtype="int64"),
        "commune_code": out["commune_code"].astype("Int64"),
        "commune_name": out["commune_name"],
        "area_code": out["area_code"],
        "area_name": out["area_name"],
        "stratum": out["stratum"].astype(object),
        "psu": out["psu"].astype(object),
        "village": out["village"].astype(object),
        "weight": out["weight"].astype("float64"),
    }
    if "fpc" in out:
        front["fpc"] = out["fpc"].astype("float64")
    front.update(
        {
            "sex": out["sex"],
            "age": out["age"],
            "age_band": out["age_band"],
            "urban_rural": out["urban_rural"],
        }
    )
    full = pd.DataFrame({**front, **answers})
    full.index = range(n)
    respondents = full.loc[~excluded].reset_index(drop=True)
    for col in ("respondent_id", "commune_name", "area_name", "stratum", "psu", "village"):
        respondents[col] = respondents[col].astype(object)
    exclusions = log.exclusions_frame(ids)
    problems = log.problems_frame()

    accounting = {
        "rows_read": int(n),
        "rows_kept": int(len(respondents)),
        "rows_excluded": int(len(exclusions)),
        "blank_rows": len(src.blank_rows),
        "missing_codes": pd.DataFrame(missing_rows, columns=["item", "column", "code", "count"]),
    }
    if accounting["rows_read"] != accounting["rows_kept"] + accounting["rows_excluded"]:
        raise AccountingError(
            f"internal error: rows read {n} != kept {len(respondents)} + excluded {len(exclusions)}"
        )
    return LoadedWave(
        config=cfg,
        respondents=respondents,
        exclusions=exclusions,
        problems=problems,
        accounting=accounting,
        value_labels=value_labels,
        encoding=src.encoding,
        design_summary=design_summary,
    )


def _one_spelling(log: checks.ProblemLog, text: pd.Series, column: str) -> pd.Series:
    """PSU labels written in several ways ("Ấp 1" / "ấp 1", "Hoà" / "Hòa") taken as one.

    Labels are compared after NFC, one tone-mark style, single spaces and case
    (:func:`sipas_analysis.geography.normalize_name`, case-folded); each group takes its most
    frequent spelling (info ``psu_label_spelling``). Labels that differ in a letter or a tone mark
    ("Ấp Tân Hòa" / "Ấp Tân Hóa") stay apart.
    """
    present = text.dropna()
    if present.empty:
        return text
    key = present.map(lambda v: geography.normalize_name(v).casefold())
    counts = pd.DataFrame({"key": key, "text": present}).value_counts(sort=True)
    first = counts.reset_index().drop_duplicates("key").set_index("key")["text"]
    variants = counts.reset_index().groupby("key")["text"].agg(list)
    merged = {first[k]: v for k, v in variants.items() if len(v) > 1}
    if not merged:
        return text
    checks.check_label_spellings(log, column, merged)
    out = text.copy()
    out.loc[present.index] = key.map(first).to_numpy()
    return out


def _resolve(cfg, src, position, raw, header, area_hint, log, table):
    """Commune codes (Int64) for every row, with the commune checks; returns (codes, raw names).

    Names are matched in the wave's vintage; a name that matches a commune of the other vintage
    exactly (with its type: "Xã Đức Hòa") but the wave's vintage only loosely ("Thị trấn Đức
    Hòa" without the type) belongs to the other vintage: never loose-matched across vintages.
    """
    vintage = cfg.boundary_vintage
    other = "2025" if vintage == "pre2025" else "pre2025"
    n = len(src.frame)
    codes = pd.Series(pd.NA, index=range(n), dtype="Int64")
    name_raw = None
    if "columns.commune_code" in position:
        code_text = to_text(raw("columns.commune_code"))
        code_num, _ = to_number(code_text)
        ok = code_num.isin(table.index)
        codes = code_num.where(ok).round().astype("Int64")
        other_codes = set(geography.communes(other)["commune_code"])
        status = pd.Series("ok", index=range(n), dtype=object)
        status[~ok] = "unknown"
        status[~ok & code_num.isin(other_codes)] = "outside_vintage"
        status[code_text.isna()] = "missing"
        checks.check_communes(
            log, status, code_text, header("columns.commune_code"), vintage, other, None
        )
        both = ok & code_num.isin(other_codes)
        checks.check_codes_in_both_vintages(
            log, status, both.to_numpy(), code_text, header("columns.commune_code"), vintage
        )
    if "columns.commune" in position:
        series = raw("columns.commune")
        pos = position["columns.commune"]
        if pos in src.value_labels:  # SPSS/Stata: commune stored as labelled codes
            labels = src.value_labels[pos]
            labelled = series.map(labels)
            series = labelled.where(labelled.notna(), series)
        name_raw = to_text(series)
        area = (
            area_hint.reset_index(drop=True)
            if area_hint is not None
            else pd.Series(np.nan, index=range(n))
        )
        # one key per distinct (name, area hint): resolved once, then mapped back to the rows
        key = name_raw.fillna("\0").astype(str) + "\x1f" + area.astype(str)
        codes_k, uniq_keys = pd.factorize(key)
        first = pd.Series(np.arange(n)).groupby(codes_k).min().to_numpy()
        uniq = pd.DataFrame({"name": name_raw.to_numpy()[first], "area": area.to_numpy()[first]})
        res = geography.resolve_communes(
            uniq["name"], vintage, area_codes=uniq["area"] if area_hint is not None else None
        )
        uniq["code"] = res["commune_code"].to_numpy()
        uniq["status"] = res["status"].to_numpy()
        exact_here, exact_other = _exact_name_keys(vintage), _exact_name_keys(other)
        full_key = uniq["name"].map(lambda v: None if v is None else geography.match_key(v))
        loose_only = full_key.map(lambda k: k is not None and k not in exact_here)
        crosses = (loose_only & full_key.isin(exact_other)).to_numpy()
        uniq.loc[crosses, "status"] = "outside_vintage"
        uniq.loc[crosses, "code"] = pd.NA
        unresolved = (uniq["status"] == "unknown") & uniq["name"].notna()
        if unresolved.any():
            res_other = geography.resolve_communes(uniq.loc[unresolved, "name"], other)
            outside = res_other["status"].isin(["ok", "ambiguous"]).to_numpy()
            idx = uniq.index[unresolved][outside]
            uniq.loc[idx, "status"] = "outside_vintage"
        uniq.loc[uniq["name"].isna(), "status"] = "missing"
        merged = uniq.iloc[codes_k].reset_index(drop=True)
        name_codes = merged["code"].astype("Int64")
        name_status = merged["status"].astype(object)
        if "columns.commune_code" in position:
            # Code column is primary; a name that resolves to another commune is a warning.
            checks.check_name_code_mismatch(
                log, codes, name_codes, name_raw, header("columns.commune")
            )
        else:
            codes = name_codes
            checks.check_communes(
                log, name_status, name_raw, header("columns.commune"), vintage, other, table
            )
            status = name_status
    if "columns.commune" in position or "columns.commune_code" in position:
        column = header(
            "columns.commune" if "columns.commune" in position else "columns.commune_code"
        )
        checks.check_vintage_share(log, status, column, vintage, other)
    return codes, name_raw


@functools.cache
def _exact_name_keys(vintage: str) -> frozenset[str]:
    """Matching keys with the type prefix ("xã đức hòa") of the communes of a vintage."""
    return frozenset(geography.match_key(n) for n in geography.communes(vintage)["commune_name"])


def _coded(n, raw, header, key, column, labels, log) -> pd.Series:
    """A coded demographic column (sex, urban/rural) as canonical codes 1/2.

    Codes are read through the value labels (the config's ``value_labels:``, else the SPSS/Stata
    file's) when there are any; otherwise the codes 1 and 2 and the words of
    :data:`LABEL_CODES` ("Nam", "Nữ", "Thành thị", …) are taken as they are.
    """
    series = raw(key)
    if series is None:
        return pd.Series(pd.NA, index=range(n), dtype="Int64")
    text = to_text(series)
    words = {u: LABEL_CODES[column].get(_fold(u)) for u in text.dropna().unique()}
    mapped = pd.to_numeric(text.map(words), errors="coerce")
    num, _ = to_number(text)
    if labels:
        by_code = {float(k): canonical_code(column, v) for k, v in labels.items()}
        num = num.map(by_code).astype("float64")
        valid_txt = ", ".join(f"{k}={v}" for k, v in labels.items())
    else:
        valid_txt = "1, 2"
    num = num.where(num.notna(), mapped)
    ok = num.isin([1, 2])
    bad = text.notna() & ~ok
    checks.check_demographic(log, header(key), bad, text, valid_txt)
    return num.where(ok).round().astype("Int64")


def _age(n, raw, header, log, labels) -> tuple[pd.Series, pd.Series]:
    age = pd.Series(pd.NA, index=range(n), dtype="Int64")
    band = pd.Series([None] * n, dtype=object)
    if raw("columns.age") is not None:
        text = to_text(raw("columns.age"))
        num, _ = to_number(text)
        ok = num.between(AGE_MIN, AGE_MAX) & (num == num.round())
        checks.check_demographic(log, header("columns.age"), text.notna() & ~ok, text, "18–110")
        age = num.where(ok).round().astype("Int64")
        band = _age_band(num.where(ok))
    elif raw("columns.age_band") is not None:
        text = to_text(raw("columns.age_band"))
        names = [b[0] for b in AGE_BANDS]
        norm = text.map(lambda t: None if t is None else band_name(t))
        band = norm.where(norm.isin(names))
        if labels:
            by_label = {
                str(int(k)) if float(k).is_integer() else str(k): canonical_code("age_band", v)
                for k, v in labels.items()
            }
            lab = text.map(by_label)
            band = band.where(band.notna(), lab.where(lab.isin(names)))
        bad = text.notna() & band.isna()
        valid = ", ".join(names) + (
            f" (nhãn / labels: {', '.join(f'{k}={v}' for k, v in labels.items())})"
            if labels
            else ""
        )
        checks.check_demographic(log, header("columns.age_band"), bad, text, valid)
        band = band.astype(object).where(band.notna(), None)
    return age, band
