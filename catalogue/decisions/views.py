"""The workspace's decisions: the list, a new decision's dry run and confirmation, and a decision's page.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.datastructures import FileStorage

from catalogue.accounts.login import guard
from catalogue.accounts.permissions import Forbidden
from catalogue.decisions import numbers, picking, services
from catalogue.decisions.forms import ConfirmDecisionForm, DecisionForm
from catalogue.decisions.models import RevocationDecision
from catalogue.imports.bounds import ImportFileError
from catalogue.refused import Refused
from catalogue.text import nfc
from catalogue.workspace import shell

bp = shell.blueprint("decisions", __name__)


def _ids(text: str | None) -> list[int]:
    """Certificate ids as the records list or the confirmation send them ("3,5,8")."""
    out = []
    for part in (text or "").replace(" ", "").split(","):
        if part.isascii() and part.isdigit() and len(part) < 10:
            out.append(int(part))
    return out


def _facts(form: Any) -> services.Facts:
    """The decision as typed, spaces and line breaks collapsed so the confirmation's copy compares equal."""
    return services.Facts(
        action=form.action.data, number=nfc(form.number.data), decided_on=form.decided_on.data,
        reason=nfc(form.reason.data),
    )  # fmt: skip


def _dry_run(plan: services.Plan | None, form: DecisionForm, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "admin/decision_new.html", form=form, plan=plan, confirm=ConfirmDecisionForm(formdata=None),
        max_certificates=numbers.MAX_CERTIFICATES,
    )  # fmt: skip
    return page, status


@bp.get("/decisions")
@guard()
def decisions() -> str:
    return render_template(
        "admin/decisions.html", decisions=services.decisions_for(shell.session(), shell.me())
    )


@bp.get("/decisions/<int:decision_id>")
@guard()
def decision(decision_id: int) -> str:
    found: RevocationDecision = shell.get_or_404(RevocationDecision, decision_id)
    if not services.visible(shell.me(), found):
        raise Forbidden(_("This decision belongs to another office."))
    return render_template(
        "admin/decision.html", decision=found, rows=services.certificates_of(shell.session(), found)
    )


@bp.get("/decisions/new")
@guard()
def new() -> tuple[str, int]:
    form = DecisionForm(formdata=None)
    form.action.data = (
        request.args.get("action") if request.args.get("action") in services.ACTIONS else "revoke"
    )
    picked = [str(i) for i in _ids(",".join(request.args.getlist("certificate")))]
    if request.args.get("all") == "1":
        found = picking.matching(shell.session(), shell.me(), request.args)
        if len(found) > numbers.MAX_CERTIFICATES:
            flash(str(numbers.too_many()), "error")
        else:
            picked = [str(i) for i in found]
    form.ids.data = ",".join(picked)
    return _dry_run(None, form)


@bp.post("/decisions/new")
@guard()
def dry_run() -> tuple[str, int]:
    form = DecisionForm()
    if not form.validate_on_submit():
        shell.form_errors(form)
        return _dry_run(None, form, 400)
    session, me, facts = shell.session(), shell.me(), _facts(form)
    upload = form.file.data
    try:
        if form.ids.data:
            plan = services.plan_ids(session, me, facts, _ids(form.ids.data))
        elif isinstance(upload, FileStorage) and upload.filename:
            plan = services.plan_numbers(session, me, facts, numbers.from_file(upload.read()))
        else:
            plan = services.plan_numbers(session, me, facts, numbers.from_text(form.numbers.data or ""))
    except (ImportFileError, Refused) as exc:
        flash(str(exc), "error")
        return _dry_run(None, form, 400)
    finally:
        session.rollback()  # the dry run writes nothing
    if not plan.lines:
        flash(
            _("List the certificates: tick them in the records list, paste their numbers or upload a file."),
            "error",
        )
        return _dry_run(None, form, 400)
    return _dry_run(plan, form)


@bp.post("/decisions/apply")
@guard()
def apply() -> Any:
    form = ConfirmDecisionForm()
    if not form.validate_on_submit():
        shell.form_errors(form)
        return redirect(url_for("decisions.new"))
    session, facts = shell.session(), _facts(form)
    try:
        found = services.apply(session, shell.me(), facts, _ids(form.ids.data), form.fingerprint.data or "")
        session.commit()
    except services.Changed as exc:
        session.rollback()
        flash(str(exc), "error")
        again = DecisionForm(formdata=None, data={"action": facts.action, "number": facts.number,
                                                  "decided_on": facts.decided_on, "reason": facts.reason,
                                                  "ids": form.ids.data})  # fmt: skip
        return _dry_run(exc.plan, again, 409)
    except Refused as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("decisions.new"))
    if found.action == "revoke":
        flash(
            ngettext(
                "%(num)s certificate revoked under decision %(number)s.",
                "%(num)s certificates revoked under decision %(number)s.",
                found.count,
                number=found.number,
            ),
            "info",
        )
    else:
        flash(
            ngettext(
                "%(num)s certificate reinstated under decision %(number)s.",
                "%(num)s certificates reinstated under decision %(number)s.",
                found.count,
                number=found.number,
            ),
            "info",
        )
    return redirect(url_for("decisions.decision", decision_id=found.id))
