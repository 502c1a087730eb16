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
# # 4. Xu hướng qua các đợt và các điểm yếu cần ưu tiên
#
# Sổ tay này trả lời hai câu hỏi cho khu vực đã chọn:
#
# 1. **Chỉ số thay đổi thế nào qua các đợt?** Mỗi thay đổi có sai số chuẩn, KTC 95% và giá trị p:
#    chỉ thay đổi "có ý nghĩa thống kê" mới là thay đổi thật; phần còn lại có thể chỉ là nhiễu do
#    chọn mẫu. Đường xu hướng bị ngắt ở các điểm gãy (đổi bộ câu hỏi SIPAS 2017 → 2022; PAPI 2016
#    và 2018; địa giới mới từ 7/2025): không so sánh qua các điểm này.
# 2. **Tiêu chí, yếu tố, lĩnh vực và xã/phường nào kéo điểm xuống?** Bảng điểm yếu xếp theo thứ tự
#    ưu tiên, với lý do và đề xuất.
#
# Mọi con số lấy từ bảng kết quả của lần chạy (`out_dir/tables/`: `estimates`, `trends`,
# `findings`), do lệnh `make brief` hoặc `sipas run --out <thư mục>` tạo ra. Xu hướng chỉ có khi
# lần chạy gồm nhiều đợt của cùng khảo sát; điểm yếu được phân tích cho mọi đợt trong lần chạy.
# Dùng `wave_config` của một đợt PAPI (ví dụ `../waves/papi-2024.yaml`) để xem xu hướng và điểm
# yếu PAPI.

# %% tags=["parameters"]
wave_config = "../waves/sipas-2025.yaml"
area_code = 800
out_dir = "../reports"

# %%
# %matplotlib inline
from IPython.display import display

from sipas_analysis import briefs, geography, plots, waves

# %% [markdown]
# ## Bảng kết quả của lần chạy

# %%
config = waves.load_wave_config(wave_config)
survey = config.survey
wave = config.wave
area_unit = str(area_code)
tables = briefs.read_tables(f"{out_dir}/tables")
estimates = tables["estimates"].query("survey == @survey and subgroup == ''")
area_units = [
    area_unit,
    *estimates.query("level == 'commune' and area_code == @area_code")["unit_code"].unique(),
]
area_name = geography.areas().query("area_code == @area_code")["area_name"].iloc[0]
print(f"{area_name}, đợt {wave}")
trends = tables["trends"].query("survey == @survey")
findings = tables["findings"].query("survey == @survey and wave == @wave")
trend_columns = [
    "unit_name",
    "label_vi",
    "wave_from",
    "wave_to",
    "estimate_from",
    "estimate_to",
    "change",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "comparable",
]

# %% [markdown]
# ## Chỉ số chung qua các đợt: toàn vùng và các khu vực
#
# Dải màu là KTC 95% của từng đợt; đường đứt dọc đánh dấu điểm gãy so sánh.

# %%
display(
    plots.trend_chart(
        estimates.query("index_code == @survey and level in ['total', 'area']"),
        trends=trends,
        title=f"Chỉ số {survey.upper()} chung qua các đợt",
    )
)

# %% [markdown]
# ## Các yếu tố / lĩnh vực của khu vực đã chọn qua các đợt
#
# Mỗi hàng là một yếu tố (SIPAS) hoặc lĩnh vực (PAPI), mỗi cột là một đợt. Thay đổi nào là thật
# thì xem bảng thay đổi bên dưới (có KTC và giá trị p).

# %%
display(
    plots.heatmap_chart(
        estimates.query("unit_code == @area_unit and index_level in ['element', 'dimension']"),
        row="label_vi",
        column="wave",
        title=f"Các yếu tố / lĩnh vực qua các đợt: {area_name}",
    )
)

# %% [markdown]
# ## Thay đổi từ đợt trước đến đợt này trong khu vực
#
# Các thay đổi có ý nghĩa thống kê (p < 0,05) của chỉ số chung, các phần và yếu tố / lĩnh vực, nội
# dung thành phần tại khu vực và các xã/phường, từ giảm nhiều nhất. Thay đổi qua điểm gãy
# (`comparable = False`) không được tính. Giá trị p ở đây chưa hiệu chỉnh cho việc kiểm định nhiều
# lần; bảng điểm yếu bên dưới đã hiệu chỉnh (Benjamini–Hochberg).

# %%
display(
    trends.query(
        "wave_to == @wave and unit_code in @area_units and significant"
        " and index_level not in ['item', 'indicator']"
    ).sort_values("change")[trend_columns]
)

# %% [markdown]
# Toàn bộ thay đổi của chỉ số chung tại khu vực và các xã/phường (kể cả thay đổi không có ý nghĩa
# thống kê, tức là chưa đủ bằng chứng để kết luận có thay đổi):

# %%
display(
    trends.query("wave_to == @wave and unit_code in @area_units and index_code == @survey")[
        trend_columns
    ]
)

# %% [markdown]
# ## Điểm yếu cần ưu tiên
#
# Mỗi dòng là một tiêu chí, yếu tố, lĩnh vực hoặc xã/phường có kết quả thấp hơn mốc so sánh
# (trung bình vùng, trung vị cả nước, đợt trước…), xếp theo thứ tự ưu tiên, với lý do và đề xuất.

# %%
display(
    findings.query("unit_code in @area_units").sort_values("priority")[
        [
            "priority",
            "unit_name",
            "label_vi",
            "estimate",
            "ci_low",
            "ci_high",
            "benchmark",
            "benchmark_label",
            "reasons",
            "recommendation_vi",
        ]
    ]
)

# %% [markdown]
# 15 điểm yếu ưu tiên nhất của toàn vùng khảo sát và các khu vực khác (để so sánh):

# %%
display(
    findings.query("unit_code not in @area_units")
    .sort_values("priority")[
        ["priority", "unit_name", "label_vi", "estimate", "benchmark", "reasons"]
    ]
    .head(15)
)
