"""Blueprint "statistics": ``/statistics`` (charts and tables) and ``/statistics.csv`` (the same numbers).

Both take the search's arguments (``q``, ``group``, ``province``, ``region``, ``level``,
``year``, ``status``), read by :meth:`SearchParams.from_args`, except that no ``status``
means every status here (the status chart is one of the charts), not search's "valid".

The CSV is in long format, one number a row, so every table fits one sheet and a
spreadsheet's pivot rebuilds any of them: ``table,row,row_label,column,count``. Tables:
``total`` (row ``all``, columns ``certificates`` and ``products``), ``year_level`` (row: year,
column: level), ``province`` (row: the current unit's slug, or ``unknown``), ``group`` (row:
group value, or ``unclassified``) and ``status`` (row: status); their column is ``certificates``.
Labels are in the request's language; codes are the API's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from catalogue.clock import today as clock_today
from catalogue.db import get_session
from catalogue.i18n import fmt_number
from catalogue.places.services import Provinces
from catalogue.registry.status import current_policy
from catalogue.search.facets import UNCLASSIFIED
from catalogue.search.params import SearchError, SearchParams
from catalogue.search.reader import IndexBuilding
from catalogue.search.views import index_building
from catalogue.statistics.charts import Bar, Series, bar_chart, stacked_chart
from catalogue.statistics.counts import Statistics, compute, years_on_record
from catalogue.text import fold
from catalogue.vocab import CertificateStatus, Level, ProductGroup, Region
from catalogue.web import public_cache

bp = Blueprint("statistics", __name__)
bp.after_request(public_cache(60))
# Words need the search index: while it is being built, the same 503 page as search.
bp.register_error_handler(IndexBuilding, index_building)

#: Level colours, lightest (commune) to darkest (national): distinct in greyscale too.
LEVEL_FILLS = {
    Level.XA: Series("", "#fde2ad"),
    Level.HUYEN: Series("", "#f0a35e"),
    Level.TINH: Series("", "#c0493a", "#fff"),
    Level.KHU_VUC: Series("", "#7a2c66", "#fff"),
    Level.QUOC_GIA: Series("", "#2a1b4e", "#fff"),
}
STATUS_FILLS = {
    CertificateStatus.VALID: "#1b6e34",
    CertificateStatus.EXPIRED: "#b07a10",
    CertificateStatus.REVOKED: "#a1121b",
}
#: Group bars: one calm colour (the label says which group it is).
GROUP_FILL = "#5b4a8a"


@dataclass(frozen=True)
class Row:
    """One line of a one-column table: code (CSV), label (page) and count."""

    key: str
    label: str
    count: int


def _params(provinces: Provinces) -> SearchParams:
    """The search's parameters; no status chosen means every status."""
    params = SearchParams.from_args(request.args, provinces)
    if not any(v.strip() for v in request.args.getlist("status")):
        params = replace(params, statuses=())
    return replace(params, page=1, sort="relevance")


def _query(params: SearchParams) -> str:
    args = params.to_args()
    return "?" + urlencode(args) if args else ""


def _tables(stats: Statistics, provinces: Provinces) -> dict[str, list[Row]]:
    """The one-column tables, in the order drawn (provinces, groups: most first)."""
    province_rows = [Row(p.slug, p.short_name, n) for p, n in stats.by_province(provinces)]
    if stats.province.get(None):
        province_rows.append(Row("unknown", _("Province unknown"), stats.province[None]))
    groups = [Row(g.value, g.label, stats.group.get(g.value, 0)) for g in ProductGroup]
    groups.append(Row(UNCLASSIFIED, _("Not yet classified"), stats.group.get("", 0)))
    groups.sort(key=lambda r: -r.count)
    statuses = [Row(s.value, s.label, stats.status.get(s.value, 0)) for s in CertificateStatus]
    return {"province": province_rows, "group": groups, "status": statuses}


def _most(rows: list[Row]) -> str:
    top = max(rows, key=lambda r: r.count, default=None)
    if top is None or not top.count:
        return _("No certificates match.")
    return _("Most: %(label)s (%(count)s).", label=top.label, count=fmt_number(top.count))


def _charts(stats: Statistics, tables: dict[str, list[Row]]) -> dict[str, Any]:
    """Each table drawn; every ``desc`` says how to read the chart and names its largest bar."""
    levels = stats.levels
    series = [replace(LEVEL_FILLS[level], label=level.label) for level in levels]
    rows = [(str(year), [stats.year_level.get((year, lv.value), 0) for lv in levels]) for year in stats.years]
    years = [Row(label, label, sum(values)) for label, values in rows]
    sorted_note = _("Horizontal bars sorted from most to fewest; the table beside gives every number.")
    stacked_note = _(
        "One bar per year, split by level and labelled with its numbers; the table beside gives every number."
    )
    status_note = _(
        "Valid, expired and revoked certificates as of today; the table beside gives every number."
    )
    current = [r for r in tables["province"] if r.key != "unknown"]
    return {
        "year_level": stacked_chart(
            "chart-year-level",
            _("Certificates by year and level"),
            f"{stacked_note} {_most(years)}",
            rows,
            series,
        ),
        "province": bar_chart(
            "chart-province",
            _("Certificates by current province"),
            f"{sorted_note} {_most(current)}",
            [Bar(r.label, r.count) for r in current],
        ),
        "group": bar_chart(
            "chart-group",
            _("Certificates by product group"),
            f"{sorted_note} {_most(tables['group'])}",
            [Bar(r.label, r.count, GROUP_FILL) for r in tables["group"]],
        ),
        "status": bar_chart(
            "chart-status",
            _("Certificates by status today"),
            f"{status_note} {_most(tables['status'])}",
            [Bar(r.label, r.count, STATUS_FILLS[CertificateStatus(r.key)]) for r in tables["status"]],
        ),
    }


def _form_choices(provinces: Provinces) -> dict[str, Any]:
    return {
        "groups": [*((g.value, g.label) for g in ProductGroup), (UNCLASSIFIED, _("Not yet classified"))],
        "provinces": sorted(((p.slug, p.short_name) for p in provinces.current()), key=lambda p: fold(p[1])),
        "regions": [(r.value, r.label) for r in Region],
        "levels": [(lv.value, lv.label) for lv in Level.by_rank()],
        "years": [(str(y), str(y)) for y in years_on_record(get_session())],
        "statuses": [(s.value, s.label) for s in CertificateStatus],
    }


@bp.get("/statistics")
def statistics() -> Any:
    session = get_session()
    provinces = Provinces.load(session)
    try:
        params = _params(provinces)
    except SearchError as exc:
        return render_template("statistics/statistics.html", error=str(exc), params=None,
                               q=request.args.get("q", "")[:200],
                               choices=_form_choices(provinces)), 400  # fmt: skip
    stats = compute(session, params, provinces, clock_today(), current_policy(session))
    tables = _tables(stats, provinces)
    query = _query(params)
    return render_template(
        "statistics/statistics.html",
        error=None,
        params=params,
        q=params.q,
        stats=stats,
        tables=tables,
        charts=_charts(stats, tables),
        choices=_form_choices(provinces),
        summary=ngettext("%(num)s certificate", "%(num)s certificates", stats.certificates),
        products=ngettext("%(num)s product", "%(num)s products", stats.products),
        search_url=url_for("search.search") + query,
        csv_url=url_for("statistics.statistics_csv") + query,
        filtered=bool(params.to_args()),
    )


@bp.get("/statistics.csv")
def statistics_csv() -> Response:
    """The page's numbers, UTF-8 with a BOM (spreadsheets then read Vietnamese correctly)."""
    session = get_session()
    provinces = Provinces.load(session)
    try:
        params = _params(provinces)
    except SearchError as exc:
        return Response(str(exc) + "\n", status=400, mimetype="text/plain")
    stats = compute(session, params, provinces, clock_today(), current_policy(session))
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(["table", "row", "row_label", "column", "count"])
    writer.writerow(["total", "all", _("All"), "certificates", stats.certificates])
    writer.writerow(["total", "all", _("All"), "products", stats.products])
    for year in stats.years:
        for level in stats.levels:
            writer.writerow(
                ["year_level", year, year, level.value, stats.year_level.get((year, level.value), 0)]
            )
    for table, rows in _tables(stats, provinces).items():
        writer.writerows([table, r.key, r.label, "certificates", r.count] for r in rows)
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=statistics.csv",
    })  # fmt: skip
