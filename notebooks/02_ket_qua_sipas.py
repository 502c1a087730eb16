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
# # 2. Kết quả SIPAS của một đợt khảo sát
#
# Chỉ số hài lòng về sự phục vụ hành chính (SIPAS) của một đợt: toàn vùng khảo sát, từng khu vực
# (Tân An, Mộc Hóa, Thạnh Hóa, Đức Hòa) và từng xã/phường của khu vực đã chọn, theo phần (chính
# sách, dịch vụ hành chính công), yếu tố và tiêu chí.
#
# Mọi con số lấy từ bảng kết quả của lần chạy (`out_dir/tables/`), do lệnh `make brief` hoặc
# `sipas run --out <thư mục>` tạo ra; hãy chạy lệnh đó trước. Mỗi ước lượng có khoảng tin cậy
# (KTC) 95% tính theo thiết kế mẫu (tầng, ấp/khu phố, trọng số).
#
# Tham số: `area` là tên khu vực ("Đức Hòa", "Tân An", "Mộc Hóa", "Thạnh Hóa") hoặc mã (802…);
# `commune` là tên hoặc mã một xã/phường của khu vực (để trống: không xem riêng xã nào);
# `element_code` là yếu tố để đi sâu vào các tiêu chí (`tiep_can`, `tthc`, `cong_chuc`, `ket_qua`,
# `pakn`).
#
# Đọc kết quả:
# - `n` là số người trả lời hợp lệ. `flag = small_n` (n < 30): ước lượng kém chắc chắn, xem KTC;
#   `suppressed` (n < 10): **không được công bố** — sổ tay này không hiển thị giá trị của các ô đó.
# - Hai đơn vị chỉ thật sự khác nhau khi KTC của chúng tách rời nhau rõ rệt; chênh lệch nhỏ giữa
#   các xã thường chỉ là nhiễu do chọn mẫu.

# %% tags=["parameters"]
wave_config = "../waves/sipas-2025.yaml"
area = "Thạnh Hóa"
commune = "Xã Tân Tây"
element_code = "tthc"
out_dir = "../reports"

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from sipas_analysis import briefs, explore, findings, pipeline, plots, waves
from sipas_analysis.report.display import display_table

# %% [markdown]
# ## Đợt khảo sát và bảng ước lượng

# %%
config = waves.load_wave_config(wave_config)
wave = config.wave
area_code, area_name = explore.resolve_area(area)
area_unit = str(area_code)
tables = briefs.read_tables(f"{out_dir}/tables")
all_estimates = tables["estimates"].query("survey == 'sipas' and wave == @wave")
estimates = all_estimates.query("subgroup == '' and flag != 'suppressed'")
chosen = explore.resolve_commune(commune, all_estimates, area_code)
columns = ["unit_name", "label_vi", "estimate", "ci_low", "ci_high", "n", "flag"]
display(
    Markdown(
        f"**{area_name}**, đợt **{wave}** (bộ câu hỏi {config.instrument}); xã/phường đã chọn: "
        f"**{chosen[1] if chosen else 'không có'}**."
    )
)

# %% [markdown]
# ## Chỉ số SIPAS chung: toàn vùng và các khu vực
#
# Chấm là ước lượng, vạch ngang là KTC 95%; đường dọc là giá trị của toàn vùng khảo sát.

# %%
headline = estimates.query("index_code == 'sipas' and level in ['total', 'area']")
display(display_table(headline, columns, caption=f"Chỉ số SIPAS chung, {wave}"))
display(
    plots.dot_whisker_chart(
        headline,
        reference_level="total",
        title=f"Chỉ số hài lòng SIPAS {wave} theo khu vực",
    )
)

# %% [markdown]
# ## Các phần và yếu tố của khu vực đã chọn
#
# Yếu tố có tỷ lệ hài lòng thấp nhất (và KTC nằm dưới các yếu tố khác) là nơi cần chú ý trước.

# %%
area_elements = estimates.query("unit_code == @area_unit and index_level in ['part', 'element']")
display(display_table(area_elements, columns, empty=f"Không có yếu tố nào cho {area_name}."))
display(
    plots.dot_whisker_chart(
        area_elements,
        label="label_vi",
        reference_level=None,
        title=f"Các phần và yếu tố SIPAS {wave}: {area_name}",
    )
)

# %% [markdown]
# ## Đi sâu: một yếu tố và các tiêu chí của nó
#
# Mỗi chấm là một tiêu chí của yếu tố đã chọn (`element_code`) với KTC 95%; dải xám là KTC của chính
# yếu tố. Tiêu chí có KTC nằm hẳn bên trái dải xám là tiêu chí kéo yếu tố xuống.

# %%
display(explore.drilldown_chart(estimates, area_unit, element_code))

# %% [markdown]
# ## Xã/phường đã chọn
#
# Các yếu tố của xã/phường và cùng biểu đồ đi sâu cho xã đó. Ở cấp xã có ít người trả lời hơn nên
# KTC rộng hơn: chỉ kết luận khi KTC tách rời rõ ràng.

# %%
commune_rows = (
    estimates.query("unit_code == @chosen[0] and index_level in ['overall', 'element']")
    if chosen
    else estimates.iloc[:0]
)
display(
    display_table(
        commune_rows,
        columns,
        empty="Chưa chọn xã/phường (tham số `commune`), hoặc mọi ô của xã đều bị ẩn (n < 10).",
    )
)
if chosen and not commune_rows.empty:
    display(explore.drilldown_chart(estimates, chosen[0], element_code))

# %% [markdown]
# ## Các xã/phường của khu vực
#
# Chỉ số SIPAS chung của từng xã/phường so với trung bình khu vực (đường dọc). Ô dấu rỗng là ô có
# ít người trả lời (n < 30); ô bị ẩn (n < 10) được liệt kê ở chú thích dưới biểu đồ.

# %%
communes = all_estimates.query(
    "subgroup == '' and index_code == 'sipas' and level in ['commune', 'area']"
    " and area_code == @area_code"
)
display(
    plots.dot_whisker_chart(
        communes,
        title=f"Chỉ số hài lòng SIPAS {wave} theo xã/phường: {area_name}",
    )
)

# %% [markdown]
# ## Bản đồ nhiệt: yếu tố × xã/phường
#
# Mỗi ô là tỷ lệ hài lòng của một yếu tố tại một xã/phường. Màu tối hơn = thấp hơn. Ô gạch chéo bị
# ẩn (n < 10); dấu `*` = ít người trả lời (n < 30).

# %%
display(
    plots.heatmap_chart(
        all_estimates.query(
            "subgroup == '' and index_level == 'element' and level == 'commune'"
            " and area_code == @area_code"
        ),
        title=f"Tỷ lệ hài lòng theo yếu tố và xã/phường, {wave}: {area_name}",
    )
)

# %% [markdown]
# ## Các tiêu chí của khu vực, từ thấp đến cao
#
# Tỷ lệ người trả lời "hài lòng" hoặc "rất hài lòng" (mã 4, 5) trên số câu trả lời hợp lệ; 15 tiêu
# chí thấp nhất.

# %%
display(
    display_table(
        estimates.query(
            "unit_code == @area_unit and index_level == 'item' and role == 'satisfaction'"
        )
        .sort_values("estimate")
        .head(15),
        columns,
    )
)

# %% [markdown]
# ## Phân bố câu trả lời các tiêu chí của một yếu tố
#
# Yếu tố chọn ở ô tham số (`element_code`): tỷ lệ (%) có trọng số của từng mức trả lời tại khu vực.
# Bên trái số 0 là không hài lòng, bên phải là hài lòng; con số ở hai đầu là tổng hai mức mỗi bên.

# %%
display(
    plots.diverging_bars_chart(
        tables["answers"].query(
            "wave == @wave and unit_code == @area_unit and parent_code == @element_code"
        ),
        title=f"Phân bố câu trả lời, {wave}: {area_name}",
    )
)

# %% [markdown]
# ## Tầm quan trọng – mức độ thực hiện (toàn vùng)
#
# Mỗi điểm là một tiêu chí: trục ngang là tỷ lệ hài lòng, trục dọc là mức độ gắn của tiêu chí với
# sự hài lòng chung của người trả lời (hệ số tương quan, mang tính mô tả). Góc "Ưu tiên cải thiện"
# (quan trọng nhưng kết quả thấp) là nơi nên tập trung trước. Cần đọc lại dữ liệu người trả lời của
# đợt.

# %%
wave_data = pipeline.load_wave(wave_config)
importance = findings.importance_performance(
    wave_data.respondents, config.instrument, estimates=all_estimates
)
display(
    display_table(
        importance.sort_values(["quadrant", "importance"], ascending=[True, False]),
        ["label_vi", "importance", "performance", "quadrant", "n"],
    )
)
display(
    plots.importance_performance_chart(
        importance, title=f"Tầm quan trọng và mức độ hài lòng các tiêu chí, {wave}"
    )
)

# %% [markdown]
# ## Theo nhóm người trả lời (toàn vùng)
#
# Giới tính, nhóm tuổi và khu vực thành thị/nông thôn.

# %%
display(
    display_table(
        all_estimates.query(
            "level == 'subgroup' and index_code == 'sipas' and flag != 'suppressed'"
        ),
        ["subgroup", *columns],
    )
)

# %% [markdown]
# ## Các ô bị ẩn (n < 10)
#
# Các ước lượng này không được công bố; chỉ nêu đơn vị, chỉ số và số người trả lời.

# %%
display(
    display_table(
        all_estimates.query("flag == 'suppressed' and index_level != 'item'"),
        ["unit_name", "subgroup", "label_vi", "n"],
        empty="Không có ô nào bị ẩn trong đợt này.",
    )
)
