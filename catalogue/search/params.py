"""What a search asks for: :class:`SearchParams`, read and validated from a request's arguments.

The search page and the API (whose query models, :mod:`catalogue.api.queries`, state the
same limits) validate here; bad input becomes :class:`SearchError`, a sentence in the
visitor's language, never a 500. :mod:`catalogue.search.query` runs the search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext as _

from catalogue.paging import positive_int
from catalogue.places.services import Provinces
from catalogue.search.facets import UNCLASSIFIED, Filters
from catalogue.text import fold, nfc, words_key
from catalogue.vocab import CertificateStatus, parse_group, parse_level, parse_region

MAX_QUERY = 200
MAX_PAGE = 10_000
SORTS = ("relevance", "newest", "name")


class SearchError(ValueError):
    """Bad search input; the message is already in the visitor's language."""


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    groups: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    #: Empty = every status (``status=all``); default valid only.
    statuses: tuple[str, ...] = ("valid",)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20

    @classmethod
    def from_args(cls, args: Mapping[str, object], provinces: Provinces, *,
                  default_per_page: int = 20, max_per_page: int = 100) -> SearchParams:  # fmt: skip
        """Validate request arguments; raises :class:`SearchError` with a clear message."""

        def values(name: str) -> list[str]:
            getlist = getattr(args, "getlist", None)
            raw = getlist(name) if getlist else ([args[name]] if name in args else [])
            return [nfc(str(v)) for v in raw if nfc(str(v))]

        q = nfc(str(args.get("q", "") or ""))
        if len(q) > MAX_QUERY:
            raise SearchError(_("Your search is too long: use at most %(max)d characters.", max=MAX_QUERY))
        groups = []
        for raw in values("group"):
            group = _group_value(raw)
            if group is None:
                raise SearchError(_("Unknown product group “%(value)s”.", value=raw))
            groups.append(group)
        slugs = []
        for raw in values("province"):
            province = provinces.match_current(raw)
            if province is None:
                hint = provinces.suggest(raw)
                message = _("Unknown province “%(value)s”.", value=raw)
                if hint:
                    message += " " + _("Did you mean: %(names)s?", names=", ".join(hint))
                raise SearchError(message)
            slugs.append(province.slug)
        regions = []
        for raw in values("region"):
            region = parse_region(raw)
            if region is None:
                raise SearchError(_("Unknown region “%(value)s”.", value=raw))
            regions.append(region.value)
        levels = []
        for raw in values("level"):
            level = parse_level(raw)[0]
            if level is None:
                raise SearchError(_("Unknown level “%(value)s”.", value=raw))
            levels.append(level.value)
        years = []
        for raw in values("year"):
            if not raw.isdigit() or not 1900 <= int(raw) <= 2200:
                raise SearchError(_("“%(value)s” is not a year.", value=raw))
            years.append(int(raw))
        statuses: list[str] = []
        for raw in values("status") or ["valid"]:
            key = fold(raw)
            if key in ("all", "tat ca"):
                statuses = []
                break
            if key not in {s.value for s in CertificateStatus}:
                raise SearchError(
                    _("Unknown status “%(value)s”: use valid, expired, revoked or all.", value=raw)
                )
            statuses.append(key)
        sort = str(args.get("sort") or "relevance")
        if sort not in SORTS:
            raise SearchError(_("Unknown sort order “%(value)s”.", value=sort))
        page = _positive(args.get("page"), 1, _("The page number must be a whole number from 1."))
        if page > MAX_PAGE:
            raise SearchError(_("The page number is too large."))
        per_page_error = _("per_page must be a whole number from 1 to %(max)d.", max=max_per_page)
        per_page = _positive(args.get("per_page"), default_per_page, per_page_error)
        if per_page > max_per_page:
            raise SearchError(per_page_error)
        return cls(q=q, groups=_dedupe(groups), provinces=_dedupe(slugs), regions=_dedupe(regions),
                   levels=_dedupe(levels), years=_dedupe(years), statuses=_dedupe(statuses),
                   sort=sort, page=page, per_page=per_page)  # fmt: skip

    def filters(self) -> Filters:
        return Filters(groups=self.groups, provinces=self.provinces, levels=self.levels,
                       regions=self.regions, years=self.years, statuses=self.statuses)  # fmt: skip

    def to_args(self) -> list[tuple[str, str]]:
        """Query-string pairs reproducing these parameters (defaults left out)."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        for name, vals in (("group", self.groups), ("province", self.provinces), ("region", self.regions),
                           ("level", self.levels), ("year", self.years)):  # fmt: skip
            out += [(name, str(v)) for v in vals]
        if not self.statuses:
            out.append(("status", "all"))
        elif self.statuses != ("valid",):
            out += [("status", s) for s in self.statuses]
        if self.sort != "relevance":
            out.append(("sort", self.sort))
        if self.page != 1:
            out.append(("page", str(self.page)))
        return out

    def toggled(self, facet: str, value: str) -> SearchParams:
        """These parameters with one facet value added or removed (back to page 1)."""
        attr = {"group": "groups", "province": "provinces", "region": "regions", "level": "levels",
                "year": "years", "status": "statuses"}[facet]  # fmt: skip
        current = tuple(str(v) for v in getattr(self, attr))
        if facet == "status":
            new: tuple[object, ...] = () if value == "all" else (value,)
            if current == new:
                new = ()
        elif value in current:
            new = tuple(v for v in getattr(self, attr) if str(v) != value)
        else:
            new = (*getattr(self, attr), int(value) if facet == "year" else value)
        changes: dict[str, Any] = {attr: new, "page": 1}
        return replace(self, **changes)


#: Names of the "not yet classified" filter a visitor may type, besides its facet value.
_UNCLASSIFIED_WORDS = frozenset({UNCLASSIFIED, "not yet classified", "unclassified", "chua phan nhom"})


def _group_value(raw: str) -> str | None:
    """A group filter's facet value: a product group, or :data:`UNCLASSIFIED` for products without one."""
    if words_key(raw) in _UNCLASSIFIED_WORDS:
        return UNCLASSIFIED
    group = parse_group(raw)
    return group.value if group else None


def _positive(raw: object, default: int, message: str) -> int:
    """A page or page size: absent is ``default``; anything but a whole number from 1 is refused."""
    if raw is None or raw == "":
        return default
    number = positive_int(raw)
    if number is None:
        raise SearchError(message)
    return number


def _dedupe(values: list) -> tuple:
    return tuple(dict.fromkeys(values))
