"""The workspace's list of consumers' reports of fake products.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
)

from catalogue.accounts import permissions
from catalogue.accounts.login import guard
from catalogue.paging import page_number
from catalogue.registry import photos as media
from catalogue.verification import fake_reports
from catalogue.verification.models import FakeReport
from catalogue.workspace import shell

bp = shell.blueprint("reports", __name__)


@bp.get("/reports")
@guard("view_reports")
def reports() -> str:
    """Consumers' reports of suspected fakes, for the officials of the certificate's province.

    Grouped by certificate and label run, beside the codes' check history: many reports
    of one run whose serials many devices checked point at copied labels.
    """
    groups, pager = fake_reports.list_groups(
        shell.session(), province_id=shell.scope(), page=page_number(request.args.get("page"))
    )
    return render_template(
        "admin/reports.html", groups=groups, pager=pager, provinces=shell.provinces(),
        history_days=fake_reports.HISTORY_DAYS, per_group=fake_reports.REPORTS_PER_GROUP,
    )  # fmt: skip


@bp.get("/reports/<int:report_id>/photo")
@guard("view_reports")
def report_photo(report_id: int) -> Response:
    report = shell.get_or_404(FakeReport, report_id)
    permissions.require(shell.me(), "view_report", province=report.province_id)
    if report.photo_key is None:
        abort(404)
    # Report photos live outside the public media folder: only officials see them.
    folder = current_app.config["CATALOGUE_DATA_DIR"] / "reports"
    response = send_from_directory(folder, media.variant_key(report.photo_key, "md", "jpg"))
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
