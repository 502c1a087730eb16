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
# # 1. Tải và kiểm tra dữ liệu một đợt khảo sát
#
# Sổ tay này đọc dữ liệu người trả lời của **một đợt khảo sát** (SIPAS hoặc PAPI) qua tệp cấu hình
# của đợt (`waves/*.yaml`) và cho thấy mọi vấn đề tìm được trong dữ liệu **trước khi** tính chỉ số:
# mã trả lời sai, phiếu trùng, xã/phường không nhận ra, cột thiếu, trọng số bất thường…
#
# Không dòng nào bị bỏ mà không ghi lại: số dòng đọc = số dòng giữ + số dòng loại. Báo cáo kiểm
# tra (CSV và Excel) được ghi vào thư mục `out_dir` để gửi lại cho nhóm điều tra thực địa.
#
# **Cách dùng:** sửa ô tham số bên dưới (đường dẫn tính từ thư mục `notebooks/`), rồi chạy tất cả
# các ô (*Run → Run All Cells*).

# %% tags=["parameters"]
wave_config = "../waves/sipas-2024.yaml"
out_dir = "outputs/kiem_tra_du_lieu"

# %%
import pandas as pd
from IPython.display import Markdown, display

from sipas_analysis import pipeline, validate
from sipas_analysis.report.display import display_table
from sipas_analysis.report.labels import label

# %% [markdown]
# ## Đọc đợt khảo sát
#
# `load_wave` đọc tệp dữ liệu (không bao giờ ghi vào tệp gốc), bỏ ngay các cột thông tin cá nhân
# (họ tên, số điện thoại, địa chỉ), chuẩn hoá tên xã về mã GSO và chạy mọi kiểm tra.
# Cấu hình của đợt (đã được kiểm tra khi đọc):

# %%
wave = pipeline.load_wave(wave_config)
cfg = wave.config
display(
    display_table(
        pd.DataFrame(
            {
                "Mục": [
                    "Khảo sát, đợt",
                    "Bộ câu hỏi",
                    "Địa giới",
                    "Thời gian thực địa",
                    "Tệp dữ liệu",
                    "Trọng số, tầng, đơn vị mẫu (cột)",
                    "Số câu hỏi được ánh xạ",
                ],
                "Giá trị": [
                    f"{cfg.survey.upper()} {cfg.wave}",
                    cfg.instrument,
                    label("boundary_vintage", cfg.boundary_vintage),
                    " – ".join(str(v) for v in (cfg.as_dict().get("fieldwork") or {}).values()),
                    cfg.file.name,
                    ", ".join(
                        str(cfg.as_dict()["design"].get(k)) for k in ("weight", "strata", "psu")
                    ),
                    len(cfg.as_dict().get("items") or {}),
                ],
            }
        )
    )
)

# %% [markdown]
# ## Tóm tắt kết quả kiểm tra
#
# Số dòng đọc, giữ và loại; số vấn đề theo mức độ: **lỗi** (dòng bị loại, hoặc lỗi của cả tệp),
# **cảnh báo** (dòng được giữ nhưng một giá trị không dùng được), **thông tin** (mã 98/99 "không
# biết / không trả lời" chuyển thành trống, cột cá nhân đã bỏ).

# %%
print(validate.summary_text(wave))

# %% [markdown]
# ## Danh sách vấn đề
#
# Mỗi dòng là một vấn đề, nêu rõ tệp, cột, số dòng trong tệp gốc và các giá trị sai. Bảng đầy đủ
# (kể cả các dòng "thông tin") nằm trong báo cáo Excel ghi ở cuối sổ tay.

# %%
display(
    display_table(
        wave.problems.query("severity != 'info'"),
        ["severity", "check", "column", "rows", "values", "message_vi", "count"],
        empty="Không có lỗi hay cảnh báo nào: dữ liệu dùng được như hiện có.",
    )
)

# %% [markdown]
# ## Các dòng bị loại và lý do
#
# `source_row` là số dòng trong tệp gốc (tiêu đề = dòng 1 với .csv/.xlsx; bản ghi đầu = 1 với
# .sav/.dta), để nhóm thực địa tìm lại phiếu.

# %%
display(display_table(wave.exclusions, empty="Không có dòng nào bị loại."))

# %% [markdown]
# ## Mã "không biết / không trả lời" theo câu hỏi
#
# Các mã này không tính vào mẫu số của chỉ số; số lượng theo từng câu và từng mã:

# %%
display(
    display_table(
        wave.accounting["missing_codes"], empty="Không có mã thiếu (98/99) hay ô trống nào."
    )
)

# %% [markdown]
# ## Bảng người trả lời chuẩn hoá (các dòng được giữ)
#
# Một dòng cho mỗi người trả lời, với mã xã GSO, khu vực (huyện/thành phố cũ), tầng, đơn vị mẫu
# (ấp/khu phố), trọng số và mã trả lời từng câu (trống = không có câu trả lời hợp lệ).

# %%
display(wave.respondents.head(10))

# %% [markdown]
# ## Ghi báo cáo kiểm tra
#
# Danh sách vấn đề (`.csv`, `.xlsx`) và các dòng bị loại được ghi vào `out_dir`:

# %%
report_files = validate.write_report(wave, out_dir)
display(Markdown("\n".join(f"- `{path}`" for path in report_files.values())))
