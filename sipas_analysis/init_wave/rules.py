"""The thresholds and patterns of drafting a wave config: how similar a header must be to an
item's wording, how the question numbers and the role columns are recognised."""

from __future__ import annotations

import re

__all__ = [
    "CUT_HEADER_MIN",
    "HEADER_SCAN_ROWS",
    "MATCH_MARGIN",
    "MATCH_THRESHOLD",
    "SHOW_CANDIDATE",
    "WORDING_CONFLICT",
]


#: Similarity (0–1) from which a header is taken as an item's wording.
MATCH_THRESHOLD = 0.80
#: Lead the best candidate needs over the second to be taken without doubt.
MATCH_MARGIN = 0.05
#: Below this, a number match whose header carries wording is ambiguous (wording differs).
WORDING_CONFLICT = 0.40
#: A header at least this long may be a cut one (240-character cells, 256-byte SPSS labels): it is
#: also compared with the same length of the instrument's wording.
CUT_HEADER_MIN = 40
#: Candidates at least this similar are shown for an unmatched item.
SHOW_CANDIDATE = 0.6
#: Rows looked at to find the header row.
HEADER_SCAN_ROWS = 30

_QNUM = re.compile(r"^(?:cau|c|q|question)?\s?(\d{1,2})(?:\s(\d{1,2}))?(?=\s|$)")
_PATTERNS = {
    "commune": r"\b(xa|phuong|thi tran|xa phuong|commune|don vi hanh chinh|ten xa|ma xa)\b",
    "village": r"\b(ap|thon|khu pho|to dan pho|village|xom|ban|khom|khu dan cu)\b",
    "weight": r"^(w|wt|wgt)$|\b(trong so|quyen so|weight|he so)\b",
    "sex": r"\b(gioi tinh|gioi|sex|gender|phai)\b",
    "age": r"\b(tuoi|age|do tuoi|nhom tuoi)\b",
    "urban_rural": r"\b(khu vuc|thanh thi|nong thon|urban|rural)\b",
    "respondent_id": r"\b(ma ?phieu|so ?phieu|ma so phieu|phieu|id|ma ho|ma nguoi|stt|so thu tu)\b",
    "strata": r"\b(tang|strata|stratum)\b",
    "psu": r"\b(psu|ma ap|ma thon|cum|cluster|ma dia ban|dia ban mau)\b",
    "fpc": r"\b(fpc)\b",
}
_NAME_WORD = re.compile(r"^[^\W\d_]+$")
