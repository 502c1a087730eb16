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
# # 5. Xem trước bản tin của một khu vực
#
# Bản tin PDF gửi lãnh đạo được dựng hoàn toàn từ các bảng kết quả của lần chạy — không con số nào
# được gõ tay. Sổ tay này cho xem trước từng phần của bản tin cho một khu vực và một đợt SIPAS: chỉ
# số chính (SIPAS, PAPI) với KTC 95% và thay đổi so với đợt trước; các câu nhận định chính được
# sinh tự động; các biểu đồ; bảng điểm yếu với đề xuất; ghi chú về số liệu. Cuối cùng sổ tay dựng
# bản PDF vào `preview_dir` (mặc định `notebooks/outputs/xem_truoc/`, nơi `make brief` không xóa)
# — giống hệt bản tin mà `make brief` / `sipas run` ghi vào `out_dir/briefs/`.
#
# `area`: tên hoặc mã khu vực (Tân An 794, Mộc Hóa 798, Thạnh Hóa 800, Đức Hòa 802), hoặc `"total"`
# cho bản tin tổng quan của toàn vùng khảo sát. Điểm yếu có cho mọi đợt trong lần chạy.

# %% tags=["parameters"]
wave = "2025"
area = "Thạnh Hóa"
out_dir = "../reports"
preview_dir = "outputs/xem_truoc"

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from sipas_analysis import briefs, explore, report
from sipas_analysis.report.display import display_table

# %% [markdown]
# ## Bảng kết quả của lần chạy và đơn vị của bản tin
#
# Đơn vị gồm mã, tên và các xã/phường có trong mẫu của đợt.

# %%
tables = briefs.read_tables(f"{out_dir}/tables")
area_code = "total" if str(area) == "total" else explore.resolve_area(area)[0]
unit = briefs.unit_for(tables["estimates"], wave, area_code)
display(
    Markdown(
        f"**{unit.name}** (mã {unit.code}), đợt {wave}: {len(unit.communes)} xã/phường trong "
        f"mẫu ({', '.join(unit.communes[:12])}{' …' if len(unit.communes) > 12 else ''})."
    )
)

# %% [markdown]
# ## Biểu đồ của bản tin
#
# Các biểu đồ được vẽ từ bảng kết quả và lưu (PNG, SVG) vào `preview_dir/figures/`.

# %%
figures = briefs.unit_figures(tables, unit, wave, Path(preview_dir, "figures"))
for figure in figures:
    display(Image(filename=figure.path), figure.caption)

# %% [markdown]
# ## Nội dung bản tin
#
# Giá trị chưa làm tròn lấy từ các bảng; bản tin làm tròn và viết theo định dạng Việt Nam (ví dụ
# 82,7%). Ô có `flag = suppressed` (n < 10) không bao giờ được in.

# %%
content = briefs.brief_content(tables, unit, wave, figures)

# %% [markdown]
# Chỉ số chính (SIPAS, và PAPI của đợt gần nhất có đơn vị này trong mẫu):

# %%
display(display_table(pd.DataFrame(content.headlines)))

# %% [markdown]
# Các nhận định chính (câu sinh tự động từ các bảng):

# %%
print("\n".join(content.key_findings))

# %% [markdown]
# Bảng điểm yếu và trọng tâm đề xuất:

# %%
display(
    display_table(
        pd.DataFrame(content.weak_points).rename(
            columns={"label": "label_vi", "recommendation": "recommendation_vi"}
        ),
        empty=f"Không có điểm yếu nào của {unit.name} trong đợt {wave}.",
    )
)

# %% [markdown]
# Ghi chú về số liệu (cỡ mẫu, số ô không công bố, điểm gãy so sánh):

# %%
notes = content.notes
display(
    Markdown(
        "\n".join(
            [
                "- Cỡ mẫu: "
                + ", ".join(f"{k.upper()} {v} người trả lời" for k, v in notes.sample_size.items()),
                f"- Số đơn vị: {notes.n_units}" if notes.n_units is not None else "",
                f"- Ô không công bố (n < 10): {notes.n_suppressed}; ô ít người trả lời (n < 30): "
                f"{notes.n_small}",
                *(f"- {text}" for text in [*notes.comparability_breaks, *notes.other]),
            ]
        )
    )
)

# %% [markdown]
# ## Dựng bản PDF
#
# Phông chữ Be Vietnam Pro được nhúng trong tệp. Mở tệp PDF từ trình duyệt tệp của JupyterLab.

# %%
pdf = report.render_brief(content, Path(preview_dir, f"ban_tin_{wave}_{unit.slug}.pdf"))
print(pdf)
