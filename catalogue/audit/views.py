"""The workspace's audit trail: every change, who made it and when, filtered.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import (
    render_template,
    request,
)
from flask_babel import gettext as _
from sqlmodel import Session, col, func, select

from catalogue.accounts import permissions
from catalogue.accounts.login import guard
from catalogue.accounts.models import User
from catalogue.audit import trail
from catalogue.audit.forms import AuditFilterForm
from catalogue.audit.models import AuditEntry
from catalogue.clock import VIETNAM
from catalogue.paging import Pager, page_number
from catalogue.registry.models import Certificate, SelectionRound
from catalogue.text import nfc
from catalogue.vocab import AUDIT_ACTIONS, AUDIT_ENTITIES
from catalogue.workspace import shell
from catalogue.workspace.forms import choices

bp = shell.blueprint("audit", __name__)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=VIETNAM)


#: The action filter's value that also shows sign-ins (the default view hides them).
_EVERY_ACTION = "all"


@bp.get("/audit")
@guard("view_audit")
def audit_log() -> str:
    """The workspace trail, in the official's language, newest first, 50 a page."""
    session = shell.session()
    form = AuditFilterForm(request.args)
    scope = shell.scope()
    form.province_id.choices = shell.province_choices(
        blank=_("All provinces") if scope is None else None, scope=scope
    )
    form.action.choices = choices(
        [("", _("All but sign-ins")), (_EVERY_ACTION, _("All, with sign-ins"))]
        + sorted(((k, str(v)) for k, v in AUDIT_ACTIONS.items()), key=lambda kv: kv[1])
    )
    form.entity_type.choices = choices(
        [("", _("All kinds"))]
        + sorted(((k, str(v)) for k, v in AUDIT_ENTITIES.items()), key=lambda kv: kv[1])
    )
    form.validate()
    query = select(AuditEntry)
    province_id = scope if scope is not None else (form.province_id.data or None)
    if province_id:
        query = query.where(AuditEntry.province_id == province_id)
    if form.person.data:
        query = query.where(col(AuditEntry.actor_label).contains(form.person.data.strip().lower()))
    if form.start.data and not form.start.errors:
        query = query.where(AuditEntry.at >= _day_start(form.start.data))
    if form.end.data and not form.end.errors:
        query = query.where(AuditEntry.at < _day_start(form.end.data + timedelta(days=1)))
    action = form.action.data or ""
    if action in AUDIT_ACTIONS:
        query = query.where(AuditEntry.action == action)
    elif action != _EVERY_ACTION:
        query = query.where(col(AuditEntry.action).not_in(trail.QUIET_ACTIONS))
    if form.entity_type.data in AUDIT_ENTITIES:
        query = query.where(AuditEntry.entity_type == form.entity_type.data)
    record = nfc(form.record.data or "").strip()[:200]
    if record:
        query = query.where(trail.record_filter(record))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pager = Pager.clamped(page_number(request.args.get("page")), int(total), trail.PAGE_SIZE)
    entries = list(session.exec(
        query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset(pager.offset).limit(trail.PAGE_SIZE)
    ).all())  # fmt: skip
    provinces = shell.provinces()
    # Page links keep the filters (and only them: no stray url_for options from the URL).
    filters = {k: v for k, v in request.args.items() if v and (k in form._fields or k == "lang")}
    views = trail.entry_views(session, entries, provinces)
    _links_in_reach(session, shell.me(), views)
    return render_template(
        "admin/audit.html",
        form=form,
        entries=views,
        pager=pager,
        filters=filters,
    )


def _links_in_reach(session: Session, me: User, views: list[trail.EntryView]) -> None:
    """Keep only the links the signed-in official can open.

    A certificate's page is its issuing office's correction form: the ministry reads a
    province's certificates in the log but opens only its own levels' pages (a link to a
    "Not allowed" page is a broken link).
    """
    ids = {v.entry.entity_id for v in views if v.link and v.entry.entity_type == "certificate"}
    if not ids:
        return
    rows = session.exec(
        select(Certificate.id, Certificate.province_id, SelectionRound.level)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .where(col(Certificate.id).in_(ids))
    ).all()
    allowed = {cert_id for cert_id, province_id, level in rows
               if permissions.can(me, "correct_certificate", province=province_id, level=level)}  # fmt: skip
    for view in views:
        if view.link and view.entry.entity_type == "certificate" and view.entry.entity_id not in allowed:
            view.link = None
