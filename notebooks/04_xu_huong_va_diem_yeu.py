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
#
# Tham số: `area` (tên hoặc mã khu vực); `compare_config` là đợt muốn so sánh với đợt
# `wave_config` (bất kỳ đợt nào của cùng khảo sát trong lần chạy). Khi hai đợt khác địa giới (trước
# và từ 7/2025), đợt cũ được quy đổi về 19 xã mới qua bảng quy đổi trước khi so sánh; khi hai đợt
# khác bộ câu hỏi, sổ tay nói rõ là không so sánh được.

# %% tags=["parameters"]
wave_config = "../waves/sipas-2025.yaml"
compare_config = "../waves/sipas-2024.yaml"
area = "Thạnh Hóa"
out_dir = "../reports"

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from sipas_analysis import briefs, explore, highlights, waves
from sipas_analysis.report.display import display_table

# %% [markdown]
# ## Bảng kết quả của lần chạy

# %%
config = waves.load_wave_config(wave_config)
other = waves.load_wave_config(compare_config)
survey = config.survey
wave = config.wave
area_code, area_name = explore.resolve_area(area)
area_unit = str(area_code)
tables = briefs.read_tables(f"{out_dir}/tables")
estimates = tables["estimates"].query("survey == @survey and subgroup == ''")
area_units = [
    area_unit,
    *estimates.query("level == 'commune' and area_code == @area_code")["unit_code"].unique(),
]
display(Markdown(f"**{area_name}**, {survey.upper()} đợt **{wave}**"))
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
# ## Chỉ số chung và các yếu tố / lĩnh vực qua các đợt
#
# Mỗi ô nhỏ là một chỉ số: toàn vùng và khu vực đã chọn, mỗi đợt một chấm với KTC 95% (vạch dọc);
# chấm rỗng = ít người trả lời (n < 30). Đường nối chỉ các đợt so sánh được; đường đứt dọc là điểm
# gãy (đổi bộ câu hỏi, địa giới mới từ 7/2025): không đọc thay đổi qua đường này.

# %%
series = estimates.query(
    "unit_code in ['total', @area_unit] and index_level in ['overall', 'element', 'total',"
    " 'dimension'] and index_code != 'papi_weighted'"
    " and (instrument == @config.instrument or index_level in ['overall', 'total'])"
)
display(
    explore.trend_small_multiples(
        series, title=f"{survey.upper()} qua các đợt: toàn vùng và {area_name}"
    )
)

# %% [markdown]
# ## So sánh hai đợt đã chọn
#
# Thay đổi từ đợt `compare_config` đến đợt `wave_config` của chỉ số chung và các yếu tố / lĩnh vực,
# tại toàn vùng, khu vực đã chọn và các xã/phường của nó. Khi hai đợt khác địa giới, các xã cũ được
# quy đổi về xã mới (cột "Địa giới so sánh").

# %%
pair = explore.compare_waves(
    tables,
    other.wave,
    wave,
    survey=survey,
    configs={other.wave: compare_config, wave: wave_config},
)
shown_units = ["total", *area_units]
pair_shown = pair.query(
    "index_level in ['overall', 'element', 'total', 'dimension'] and comparable"
    " and unit_code in @shown_units"
)
if not pair.empty and not pair["comparable"].any():
    display(Markdown(f"**Không so sánh được:** {pair['break_reason_vi'].iloc[0]}"))
display(
    display_table(
        pair_shown,
        [*trend_columns, "geography"],
        empty=f"Không có thay đổi nào so sánh được giữa đợt {other.wave} và đợt {wave}.",
    )
)

# %% [markdown]
# ## Thay đổi từ đợt trước đến đợt này trong khu vực
#
# Các thay đổi có ý nghĩa thống kê của chỉ số chung, các phần và yếu tố / lĩnh vực, nội dung thành
# phần tại khu vực và các xã/phường, từ giảm nhiều nhất, như các bản tin gọi là có ý nghĩa: khoảng
# tin cậy của thay đổi không chứa 0 và, khi nhiều thay đổi được xem cùng lúc (các yếu tố của một
# đơn vị; các xã, phường), giá trị q (đã hiệu chỉnh cho việc so sánh nhiều lần, Benjamini–Hochberg)
# không quá 0,05. Thay đổi qua điểm gãy không được tính.

# %%
said = trends[highlights.said_significant_rows(trends)]
display(
    display_table(
        said.query(
            "wave_to == @wave and unit_code in @area_units"
            " and index_level not in ['item', 'indicator']"
        ).sort_values("change"),
        [*trend_columns, "q_value"],
        empty=f"Không có thay đổi nào có ý nghĩa thống kê tại {area_name} đến đợt {wave}.",
    )
)

# %% [markdown]
# Toàn bộ thay đổi của chỉ số chung tại khu vực và các xã/phường (kể cả thay đổi không có ý nghĩa
# thống kê, tức là chưa đủ bằng chứng để kết luận có thay đổi):

# %%
display(
    display_table(
        trends.query("wave_to == @wave and unit_code in @area_units and index_code == @survey"),
        trend_columns,
        empty=f"Lần chạy không có đợt trước đợt {wave} để so sánh.",
    )
)

# %% [markdown]
# ## Điểm yếu cần ưu tiên
#
# Mỗi dòng là một tiêu chí, yếu tố, lĩnh vực hoặc xã/phường có kết quả thấp hơn mốc so sánh
# (trung bình vùng, trung vị cả nước, đợt trước…), xếp theo thứ tự ưu tiên, với lý do và đề xuất.

# %%
display(
    display_table(
        findings.query("unit_code in @area_units").sort_values("priority"),
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
        ],
        empty=f"Không có điểm yếu nào của {area_name} trong đợt {wave}.",
    )
)

# %% [markdown]
# 15 điểm yếu ưu tiên nhất của toàn vùng khảo sát và các khu vực khác (để so sánh):

# %%
display(
    display_table(
        findings.query("unit_code not in @area_units").sort_values("priority").head(15),
        ["priority", "unit_name", "label_vi", "estimate", "benchmark", "reasons"],
    )
)
