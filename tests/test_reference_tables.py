"""The committed reference tables hold the published facts (values written here from the sources)."""

from __future__ import annotations

import pandas as pd
import pytest

from sipas_analysis.paths import REFERENCE_DIR


def test_longan_papi_2019_total_and_dimensions():
    t = pd.read_csv(REFERENCE_DIR / "longan_papi_dimensions_2011_2024.csv")
    row = t[(t["year"] == 2019) & (t["item"] == "TOTAL")]
    assert len(row) == 1
    assert row["long_an"].iloc[0] == pytest.approx(41.7018, abs=1e-9)
    # The official total is the sum of the eight dimensions.
    dims = t[(t["year"] == 2019) & t["item"].str.fullmatch(r"D[1-8]")]
    assert len(dims) == 8
    assert dims["long_an"].sum() == pytest.approx(41.7018, abs=5e-4)
    assert set(t["year"]) == set(range(2011, 2025))


def test_longan_sipas_published():
    t = pd.read_csv(REFERENCE_DIR / "published_sipas.csv")
    la = t[(t["scope"] == "Long An") & (t["index"] == "SIPAS")].set_index("year")
    assert la.loc[2023, "value_pct"] == pytest.approx(78.66)
    assert la.loc[2023, "rank"] == 57
    assert la.loc[2024, "value_pct"] == pytest.approx(82.71)


def test_census_total_long_an():
    t = pd.read_csv(REFERENCE_DIR / "census2019_longan_communes.csv")
    assert len(t) == 192
    assert t["pop_total"].sum() == 1_688_547  # GSO 2019 census, Long An province
