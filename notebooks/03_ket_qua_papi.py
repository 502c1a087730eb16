# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.18.1
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Kết quả PAPI và so sánh với kết quả chính thức
#
# Chỉ số Hiệu quả quản trị và hành chính công cấp tỉnh (PAPI) tính từ khảo sát của địa phương tại
# các xã/phường được chọn: điểm tổng hợp (8–80), 8 lĩnh vực nội dung (mỗi lĩnh vực 1–10) và các
# nội dung thành phần; sau đó đặt cạnh kết quả PAPI chính thức của tỉnh (Long An, nay thuộc Tây
# Ninh): trung vị cả nước, tỉnh cao nhất và nhóm xếp hạng.
#
# Mọi con số của khảo sát lấy từ bảng kết quả của lần chạy (`out_dir/tables/`), do lệnh
# `make brief` hoặc `sipas run --out <thư mục>` tạo ra. Khoảng tin cậy (KTC) trong các bảng là KTC
# 95% thật sự; lưu ý báo cáo PAPI chính thức ghi "95%" nhưng thực chất là ±1,645·SE (khoảng 90%).
#
# Mỗi năm PAPI chỉ khảo sát 3 huyện (Tân An luôn có mặt) và 2 xã mỗi huyện: một khu vực không được
# chọn trong đợt sẽ không có số liệu.

# %% tags=["parameters"]
wave_config = "../waves/papi-2024.yaml"
area = "Tân An"
out_dir = "../reports"

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from sipas_analysis import briefs, explore, plots, waves
from sipas_analysis.indices import papi_interval_conventions
from sipas_analysis.report.display import display_table

# %% [markdown]
# ## Đợt khảo sát và bảng ước lượng

# %%
config = waves.load_wave_config(wave_config)
wave = config.wave
year = int(wave)
area_code, area_name = explore.resolve_area(area)
area_unit = str(area_code)
display(Markdown(f"**{area_name}**, PAPI đợt **{wave}**"))
tables = briefs.read_tables(f"{out_dir}/tables")
all_estimates = tables["estimates"].query("survey == 'papi' and wave == @wave")
estimates = all_estimates.query("subgroup == '' and flag != 'suppressed'")
columns = ["unit_name", "label_vi", "estimate", "ci_low", "ci_high", "n", "flag"]

# %% [markdown]
# ## Điểm PAPI tổng hợp: toàn vùng và các khu vực được khảo sát
#
# `papi` là tổng không trọng số của 8 lĩnh vực (cách PAPI công bố điểm chính); `papi_weighted`
# dùng trọng số các lĩnh vực của PAPI 2019.

# %%
headline = estimates.query("index_code in ['papi', 'papi_weighted'] and level in ['total', 'area']")
display(display_table(headline, columns))
display(
    plots.dot_whisker_chart(
        headline.query("index_code == 'papi'"),
        reference_level="total",
        title=f"Chỉ số PAPI {wave} theo khu vực",
    )
)

# %% [markdown]
# ## Hai cách ghi khoảng tin cậy
#
# Cùng một điểm tổng hợp của toàn vùng với KTC 95% thật (±1,96·SE) và theo quy ước của báo cáo
# PAPI (±1,645·SE).

# %%
conventions = papi_interval_conventions(
    headline.query("index_code == 'papi' and level == 'total'")
).rename(columns={"convention": "Quy ước", "ci_label_vi": "Khoảng"})
display(
    display_table(conventions, ["unit_name", "Quy ước", "Khoảng", "estimate", "ci_low", "ci_high"])
)

# %% [markdown]
# ## 8 lĩnh vực nội dung của toàn vùng khảo sát
#
# Mỗi lĩnh vực có thang điểm 1–10 (tổng các nội dung thành phần).

# %%
dimensions = estimates.query("level == 'total' and index_level == 'dimension'")
display(display_table(dimensions, columns))
display(
    plots.dot_whisker_chart(
        dimensions,
        label="label_vi",
        reference_level=None,
        title=f"Các lĩnh vực nội dung PAPI {wave}, toàn vùng khảo sát",
    )
)

# %% [markdown]
# ## Nội dung thành phần của khu vực đã chọn, từ thấp đến cao
#
# Thang điểm của một nội dung thành phần là 1/K đến 10/K, với K là số nội dung thành phần của lĩnh
# vực: hãy so sánh trong cùng lĩnh vực, hoặc với toàn vùng ở bảng tiếp theo.

# %%
display(
    display_table(
        estimates.query("unit_code == @area_unit and index_level == 'subdimension'").sort_values(
            "estimate"
        ),
        columns,
        empty=f"{area_name} không có trong mẫu PAPI đợt {wave}: không có kết quả riêng của khu vực "
        "này. Xem kết quả toàn vùng ở trên.",
    )
)

# %% [markdown]
# ## Bản đồ nhiệt: lĩnh vực × xã/phường được khảo sát

# %%
display(
    plots.heatmap_chart(
        all_estimates.query("subgroup == '' and level == 'commune' and index_level == 'dimension'"),
        title=f"Điểm các lĩnh vực PAPI theo xã/phường, {wave}",
    )
)

# %% [markdown]
# ## So sánh với kết quả PAPI chính thức của tỉnh
#
# Kết quả chính thức (papi.org.vn) của Long An: giá trị của tỉnh, trung vị cả nước, tỉnh cao nhất,
# thứ hạng và nhóm xếp hạng. `near_cut = True`: tỉnh chỉ cách ranh giới nhóm một bậc xếp hạng.

# %%
papi_benchmarks = tables["benchmarks"]
benchmark_columns = [
    "index_code",
    "label_vi",
    "province_value",
    "national_median",
    "national_max",
    "rank",
    "n_provinces",
    "quartile_group_vi",
    "near_cut",
]
display(
    display_table(
        papi_benchmarks.query("year == @year"),
        benchmark_columns,
        empty=f"Chưa có PAPI chính thức của năm {year}.",
    )
)

# %% [markdown]
# Biểu đồ: điểm từng lĩnh vực của tỉnh (chấm đậm) so với trung vị cả nước và tỉnh cao nhất.

# %%
display(plots.papi_dimension_chart(papi_benchmarks, year=year))

# %% [markdown]
# ## Điểm PAPI tổng hợp chính thức của tỉnh qua các năm
#
# Năm 2016 (đổi cách tính lĩnh vực 1, 3, 5) và 2018 (từ 6 lên 8 lĩnh vực) là các điểm gãy: không
# so sánh trực tiếp điểm tổng hợp qua các mốc này.

# %%
display(
    display_table(
        papi_benchmarks.query("index_code == 'papi'"),
        ["year", "instrument", "province_value", "national_median", "rank", "quartile_group_vi"],
    )
)
