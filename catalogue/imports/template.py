"""The downloadable import template: the format's headers, one example row, the allowed values.

The example row is marked (:data:`EXAMPLE_MARKERS`) so the dry run
(:mod:`catalogue.imports.checking`) refuses it if an official uploads it unchanged.
"""

from __future__ import annotations

import io

from catalogue.clock import utcnow
from catalogue.places.services import Provinces
from catalogue.registry.rows import HEADERS

#: The template's example row starts with these words; it must never be published.
EXAMPLE_MARKERS = ("vi du", "example")


def example_values() -> dict[str, str]:
    """The template's example row: plainly an example, never a real product."""
    return {
        "product": "VÍ DỤ – Tên sản phẩm (xoá dòng này)",
        "producer": "VÍ DỤ – Tên cơ sở sản xuất",
        "producer_kind": "Hợp tác xã",
        "locality": "Xã …",
        "province": "Tỉnh/Thành phố …",
        "category": "Thủ công mỹ nghệ",
        "level": "Tỉnh",
        "region": "",
        "year": str(utcnow().year),
        "certificate_number": "…/GCN-SCT",
        "issued_on": "dd/mm/yyyy",
        "expires_on": "",
        "decision": "…/QĐ-UBND",
        "decision_date": "dd/mm/yyyy",
        "description": "",
        "photo": "ten-anh.jpg",
        "gtin": "8931234567897",
    }


TEMPLATE_FIELDS = (
    "product",
    "producer",
    "producer_kind",
    "locality",
    "province",
    "category",
    "level",
    "region",
    "year",
    "certificate_number",
    "issued_on",
    "expires_on",
    "decision",
    "decision_date",
    "description",
    "photo",
    "gtin",
)


def template_xlsx(provinces: Provinces) -> bytes:
    """The downloadable template: Vietnamese headers, one example row, allowed values."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's only sheet
    sheet.title = "Danh sách"
    sheet.append([HEADERS[f][0] for f in TEMPLATE_FIELDS])
    example = example_values()
    sheet.append([example[f] for f in TEMPLATE_FIELDS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    grey = PatternFill("solid", fgColor="FFF2CC")
    for cell in sheet[2]:
        cell.fill = grey
        cell.font = Font(italic=True, color="7F6000")
    for column, width in zip(
        "ABCDEFGHIJKLMNOPQ", (40, 32, 18, 24, 20, 26, 10, 22, 8, 20, 12, 12, 18, 14, 40, 18, 18), strict=True
    ):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"

    lists = book.create_sheet("Giá trị hợp lệ")
    columns = {
        "Cấp": ["Xã", "Huyện", "Tỉnh", "Khu vực", "Quốc gia"],
        "Nhóm sản phẩm": [
            "Thủ công mỹ nghệ",
            "Chế biến nông, lâm, thủy sản và thực phẩm",
            "Thiết bị, máy móc, dụng cụ và phụ tùng cơ khí",
            "Sản phẩm khác",
        ],
        "Khu vực": ["Phía Bắc", "Miền Trung - Tây Nguyên", "Phía Nam"],
        "Loại hình cơ sở": ["Công ty", "Hợp tác xã", "Tổ hợp tác", "Doanh nghiệp tư nhân", "Hộ kinh doanh"],
        "Tỉnh/Thành phố": [p.short_name for p in provinces.current()],
    }
    for number, (title, values) in enumerate(columns.items(), start=1):
        lists.cell(row=1, column=number, value=title).font = Font(bold=True)
        for row, value in enumerate(values, start=2):
            lists.cell(row=row, column=number, value=value)
    notes = book.create_sheet("Hướng dẫn")
    for line in (
        "Điền mỗi sản phẩm một dòng trên trang “Danh sách”; xoá dòng VÍ DỤ (tô vàng) trước khi tải lên.",
        "Bắt buộc: Tên sản phẩm, Tên cơ sở, Tỉnh/Thành phố, Nhóm sản phẩm, Cấp, Năm, Số giấy chứng nhận.",
        "Ngày ghi dd/mm/yyyy. “Khu vực” chỉ điền cho cấp khu vực. “Ảnh” là tên tệp ảnh trong tệp zip.",
        "“Ngày quyết định” là ngày của quyết định công nhận; ngày cấp lệch xa ngày này sẽ được cảnh báo.",
        "Cấp huyện chỉ có đến 30/6/2025; cấp xã có từ 1/7/2025.",
        "“Mã GTIN” (không bắt buộc): mã vạch GTIN-8/12/13/14 in trên bao bì, nhiều mã cách nhau "
        "bằng dấu phẩy; mỗi mã chỉ thuộc một sản phẩm. Tải lại chỉ thêm mã mới, không xoá mã đã có.",
        "Tải lại cùng số giấy chứng nhận và cấp sẽ cập nhật bản ghi, không tạo bản trùng.",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 110

    letters = {f: "ABCDEFGHIJKLMNOPQ"[i] for i, f in enumerate(TEMPLATE_FIELDS)}
    for name, letter in (("level", "A"), ("category", "B"), ("region", "C"), ("producer_kind", "D")):
        n = len(columns[HEADERS[name][0]]) + 1
        rule = DataValidation(
            type="list", formula1=f"='Giá trị hợp lệ'!${letter}$2:${letter}${n}", allow_blank=True
        )
        rule.showErrorMessage = False
        sheet.add_data_validation(rule)
        rule.add(f"{letters[name]}2:{letters[name]}5000")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
