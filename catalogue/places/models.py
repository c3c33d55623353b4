"""Regions and provinces: the 34 current units and the 63 pre-2025 units.

A province row is one unit over one period. Codes were reused with a new
extent in 2025 (15 was Yên Bái, now Lào Cai), so rows are keyed by a surrogate
id and ``(code, valid_from)``; a pre-2025 unit points at the unit it became
part of through ``successor_id``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class Province(SQLModel, table=True):
    __tablename__ = "province"
    __table_args__ = (UniqueConstraint("slug"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, index=True)
    #: Official name with its prefix, e.g. "Tỉnh Lào Cai", "Thành phố Huế".
    name: str = Field(max_length=120)
    #: The name without prefix, as people write it ("Lào Cai").
    short_name: str = Field(max_length=120)
    #: "tinh" or "thanh_pho".
    kind: str = Field(max_length=16)
    #: QĐ 19/2025/QĐ-TTg code for current units; unknown for pre-2025 units here.
    code: str | None = Field(default=None, max_length=4)
    valid_from: date | None = None
    valid_to: date | None = None
    #: For a pre-2025 unit, the current unit it became part of.
    successor_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    #: Region of a current unit as published (new Lâm Đồng has none: mixed).
    region: str | None = Field(default=None, max_length=32)

    @property
    def is_current(self) -> bool:
        return self.valid_to is None
