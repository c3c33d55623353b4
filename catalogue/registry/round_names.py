"""How a selection round is named to people: "Cấp tỉnh · Quảng Nam · 2024".

The one rule for a round's human name, used wherever officials see a round
(workspace lists and forms, batch pages, the audit log, certificate pages).
The slug stays a URL key and is never shown as a name.
"""

from __future__ import annotations

from typing import Protocol

from flask_babel import lazy_gettext as _l

from catalogue.places.models import Province
from catalogue.registry.models import SelectionRound
from catalogue.vocab import Level, Region


class ProvinceLookup(Protocol):
    """Anything that finds a province by id: :class:`~catalogue.places.services.Provinces` or a dict."""

    def get(self, province_id: int | None, /) -> Province | None: ...  # pragma: no cover


#: The level word with the rest of the name; one pattern per level so translators see it whole.
_LEVEL_PATTERNS = {
    Level.XA: _l("Commune · %(rest)s"),
    Level.HUYEN: _l("District · %(rest)s"),
    Level.TINH: _l("Provincial · %(rest)s"),
    Level.KHU_VUC: _l("Regional · %(rest)s"),
    Level.QUOC_GIA: _l("National · %(rest)s"),
}


def round_label(round_: SelectionRound, provinces: ProvinceLookup | None = None) -> str:
    """The round as people say it, in the current language.

    ``Cấp tỉnh · Quảng Nam · 2024``, ``Cấp huyện · Điện Bàn · Quảng Nam · 2023``,
    ``Khu vực phía Bắc · 2024`` (the region's name says the level), ``Quốc gia · 2023``;
    an edition is added in brackets. The province is the unit as it was then.
    """
    year = str(round_.year)
    edition = f" ({round_.edition})" if round_.edition else ""
    try:
        level: Level | None = Level(round_.level)
    except ValueError:
        level = None
    if level is Level.KHU_VUC and round_.region:
        try:
            return f"{Region(round_.region).label} · {year}{edition}"
        except ValueError:
            pass
    parts: list[str] = []
    if level in (Level.XA, Level.HUYEN, Level.TINH):
        if round_.locality and level is not Level.TINH:
            parts.append(round_.locality)
        province = provinces.get(round_.province_id) if provinces is not None else None
        if province is not None:
            parts.append(province.short_name)
    parts.append(year)
    rest = " · ".join(parts)
    if level is None:
        return f"{round_.level} · {rest}{edition}"
    return str(_LEVEL_PATTERNS[level] % {"rest": rest}) + edition
