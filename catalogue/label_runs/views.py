"""Blueprint "label_runs": the officials' pages for label runs (one verification code per package).

A certificate's page lists its runs and issues a new one; a run's page offers its
codes as a CSV and its serial ranges as PDF label sheets (both background jobs,
watched on the job page) and withdraws labels. The pages show serial numbers and
ranges, never codes: only the downloaded files carry codes. Every route checks the
certificate's office (:func:`runs.may_issue`, the one record rule) before anything else.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from catalogue.accounts.login import actor, guard
from catalogue.db import get_session, pk
from catalogue.i18n import fmt_number
from catalogue.jobs import service as jobs
from catalogue.label_runs import runs
from catalogue.places.services import Provinces
from catalogue.registry import certificates, ownership
from catalogue.registry.models import Certificate, Product, SelectionRound
from catalogue.verification.models import LabelRun, LabelWithdrawal
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm, Form

bp = shell.blueprint("label_runs", __name__)


class IssueForm(Form):
    count = IntegerField(
        _l("Number of codes (one per package, 1 to 1,000,000)"),
        validators=[InputRequired()],
        render_kw={"min": 1, "max": runs.MAX_COUNT},
    )
    note = StringField(
        _l("Note for officials (the producer's order, the printer; optional)"),
        validators=[Optional(), Length(max=200)],
    )


class WithdrawForm(Form):
    first = IntegerField(_l("From serial"), validators=[InputRequired()], render_kw={"min": 1})
    last = IntegerField(_l("To serial"), validators=[InputRequired()], render_kw={"min": 1})
    reason = TextAreaField(
        _l("Why (shown to anyone who scans these labels; for example: a roll of labels was lost)"),
        validators=[DataRequired(), Length(max=500)],
    )
    confirm = BooleanField(
        _l(
            "I understand: these labels will read “label withdrawn” from now on. "
            "The certificate stays as it is."
        ),  # fmt: skip
        validators=[DataRequired()],
    )


def may_issue_labels(cert: Certificate) -> bool:
    """Whether the signed-in official may issue ``cert``'s labels (a template global for the
    certificate page's link)."""
    user = actor()
    return user is not None and runs.may_issue(get_session(), user, cert)


def _certificate(cert_id: int) -> tuple[Certificate, SelectionRound]:
    """The certificate, refused (403) unless the official's office issues its labels."""
    session = shell.session()
    cert = shell.get_or_404(Certificate, cert_id)
    round_ = certificates.require_certificate(session, shell.me(), runs.ACTION, cert)
    return cert, round_


def _run(run_id: int) -> tuple[LabelRun, Certificate, SelectionRound]:
    run = shell.get_or_404(LabelRun, run_id)
    cert, round_ = _certificate(run.certificate_id)
    return run, cert, round_


def _start(
    kind: str, run: LabelRun, cert: Certificate, first: int | None = None, last: int | None = None
) -> Any:
    """Queue a ``label_csv`` or ``label_sheets`` job and send the official to its page.

    The job belongs to the certificate's office (the current province of a local
    certificate; none, so the ministry alone, for a regional or national one).
    """
    session = shell.session()
    if not runs.today_valid(session, cert):  # the job would refuse too; say it here, at once
        flash(_("Labels are issued only for a certificate that is valid today."), "error")
        return redirect(url_for("label_runs.run", run_id=pk(run)))
    owner = ownership.certificate_owner(session, Provinces.load(session), cert)
    params: dict[str, Any] = {"run_id": pk(run)}
    if first is not None and last is not None:
        params.update(first=first, last=last)
    job = jobs.create(
        session, kind=kind, actor=shell.me(), province_id=owner.province_id, params=params,
        locale=str(get_locale() or "vi"),
    )  # fmt: skip
    job = jobs.submit(session, job)
    return redirect(url_for("jobs.job", job_id=job.id))


def _range(run: LabelRun) -> tuple[int, int]:
    """The serial range a button posted (``first``, ``last``); 400 unless it is a range of the run."""
    first, last = request.form.get("first", type=int), request.form.get("last", type=int)
    if first is None or last is None:
        abort(400)
    try:
        runs.check_range(run, first, last)
    except runs.RunRefused:
        abort(400)
    return first, last


@bp.route("/certificates/<int:cert_id>/labels", methods=["GET", "POST"])
@guard()
def certificate_runs(cert_id: int) -> Any:
    """The certificate's label runs, and the form that issues a new one."""
    cert, round_ = _certificate(cert_id)
    session = shell.session()
    form = IssueForm()
    valid = runs.today_valid(session, cert)
    if form.validate_on_submit():
        count = int(form.count.data or 0)  # InputRequired: a number was given (0 is the service's to refuse)
        run = shell.commit(
            lambda: runs.issue_run(
                session, actor=shell.me(), certificate=cert, count=count, note=form.note.data
            ),
            lambda run: _("Label run #%(id)s issued: %(n)s codes.", id=pk(run), n=fmt_number(run.count)),
        )
        if run is not shell.FAILED:
            return _start("label_csv", run, cert)
    shell.form_errors(form)
    return render_template(
        "admin/label_runs.html",
        cert=cert,
        round=round_,
        product=session.get(Product, cert.product_id),
        summaries=runs.runs_of(session, cert_id),
        form=form,
        valid=valid,
        max_count=runs.MAX_COUNT,
    )


@bp.route("/label-runs/<int:run_id>", methods=["GET", "POST"])
@guard()
def run(run_id: int) -> Any:
    """A run: its serial ranges (sheets, CSV), its withdrawals and the form that withdraws labels."""
    found, cert, round_ = _run(run_id)
    session = shell.session()
    form = WithdrawForm()
    if form.validate_on_submit():
        first, last, reason = int(form.first.data or 0), int(form.last.data or 0), form.reason.data or ""
        done = shell.commit(
            lambda: runs.withdraw(session, actor=shell.me(), run=found, first=first, last=last,
                                  reason=reason),
            _("Labels %(first)s–%(last)s withdrawn: their codes now read “label withdrawn”.",
              first=fmt_number(first), last=fmt_number(last)),
        )  # fmt: skip
        if done is not shell.FAILED:
            return redirect(url_for("label_runs.run", run_id=run_id))
    shell.form_errors(form)
    summary = next(s for s in runs.runs_of(session, found.certificate_id) if pk(s.run) == run_id)
    return render_template(
        "admin/label_run.html",
        summary=summary,
        run=found,
        cert=cert,
        round=round_,
        product=session.get(Product, cert.product_id),
        form=form,
        confirm=ConfirmForm(),
        valid=runs.today_valid(session, cert),
    )


@bp.post("/label-runs/<int:run_id>/withdrawals/<int:withdrawal_id>/undo")
@guard()
def undo_withdrawal(run_id: int, withdrawal_id: int) -> Any:
    """Take back a withdrawal made by mistake (audited); the run's page says what happened."""
    found, _cert, _round = _run(run_id)
    withdrawal = shell.get_or_404(LabelWithdrawal, withdrawal_id)
    if withdrawal.run_id != pk(found):
        abort(404)
    if ConfirmForm().validate_on_submit():
        shell.commit(
            lambda: runs.undo_withdrawal(shell.session(), actor=shell.me(), withdrawal=withdrawal),
            _("Labels %(first)s–%(last)s read their certificate's status again.",
              first=fmt_number(withdrawal.first_serial), last=fmt_number(withdrawal.last_serial)),
        )  # fmt: skip
    return redirect(url_for("label_runs.run", run_id=run_id))


@bp.post("/label-runs/<int:run_id>/csv")
@guard()
def run_csv(run_id: int) -> Any:
    """Start the CSV job: every code of the run, or one range's when the button says which."""
    found, cert, _round = _run(run_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("label_runs.run", run_id=run_id))
    if "first" in request.form:
        first, last = _range(found)
        return _start("label_csv", found, cert, first, last)
    return _start("label_csv", found, cert)


@bp.post("/label-runs/<int:run_id>/sheets")
@guard()
def run_sheets(run_id: int) -> Response:
    """Start the label sheets job for one range of at most :data:`runs.SHEET_RANGE` serials."""
    found, cert, _round = _run(run_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("label_runs.run", run_id=run_id))
    first, last = _range(found)
    if last - first + 1 > runs.SHEET_RANGE:
        abort(400)
    response: Response = _start("label_sheets", found, cert, first, last)
    return response
