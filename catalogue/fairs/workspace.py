"""The workspace's fairs and showrooms, with their exhibitors.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from typing import Any

from flask import (
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from sqlmodel import col, select

from catalogue.accounts.login import guard
from catalogue.fairs import services
from catalogue.fairs.forms import EventForm, ExhibitorForm
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.registry.models import Producer, Product
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm

bp = shell.blueprint("fairs_admin", __name__)


# ----------------------------------------------------------------------------- fairs and showrooms


@bp.get("/events")
@guard("manage_events")
def events() -> str:
    rows = shell.session().exec(select(Event).order_by(col(Event.start_date).desc())).all()
    return render_template("admin/events.html", events=rows)


@bp.route("/events/new", methods=["GET", "POST"])
@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
@guard("manage_events")
def event(event_id: int | None = None) -> Any:
    session = shell.session()
    obj = shell.get_or_404(Event, event_id) if event_id else None
    form = EventForm(obj=obj)
    form.province_id.choices = shell.province_choices(blank="—")
    if form.validate_on_submit():
        saved = shell.commit(
            lambda: services.save_event(
                session, actor=shell.me(), event=obj, values=shell.form_values(form, services.EVENT_FIELDS)
            ),
            _("Saved."),
        )
        if saved is not shell.FAILED:
            return redirect(url_for("fairs_admin.event", event_id=saved.id))
    shell.form_errors(form)
    exhibitors: list[tuple[Exhibitor, Producer | None, list[Product]]] = []
    if obj is not None:
        for ex in session.exec(select(Exhibitor).where(Exhibitor.event_id == obj.id)).all():
            shown = session.exec(
                select(Product)
                .join(Exhibit, col(Exhibit.product_id) == Product.id)
                .where(Exhibit.exhibitor_id == ex.id)
            ).all()
            exhibitors.append((ex, session.get(Producer, ex.producer_id), list(shown)))
    return render_template(
        "admin/event.html",
        form=form,
        obj=obj,
        exhibitors=exhibitors,
        exhibitor_form=ExhibitorForm(),
        confirm=ConfirmForm(),
        title=obj.name if obj else _("New fair or showroom"),
    )


@bp.post("/events/<int:event_id>/exhibitors")
@guard("manage_events")
def exhibitor_add(event_id: int) -> Any:
    session = shell.session()
    obj = shell.get_or_404(Event, event_id)
    form = ExhibitorForm()
    if form.validate_on_submit():
        producer_row = session.get(Producer, form.producer_id.data)
        raw_ids = [p.strip() for p in (form.product_ids.data or "").split(",") if p.strip()]
        if producer_row is None or not all(p.isdigit() for p in raw_ids):
            flash(_("Unknown producer or product number."), "error")
            return redirect(url_for("fairs_admin.event", event_id=event_id))
        if raw_ids:
            found = [session.get(Product, int(p)) for p in raw_ids]
            shown = [p for p in found if p is not None]
            if len(shown) < len(found):
                flash(_("Unknown producer or product number."), "error")
                return redirect(url_for("fairs_admin.event", event_id=event_id))
        else:
            shown = list(session.exec(select(Product).where(Product.producer_id == producer_row.id)).all())
        shell.commit(
            lambda: services.add_exhibitor(
                session,
                actor=shell.me(),
                event=obj,
                producer=producer_row,
                booth=form.booth.data,
                products=shown,
            ),
            _("Exhibitor added."),
        )
    shell.form_errors(form)
    return redirect(url_for("fairs_admin.event", event_id=event_id))


@bp.post("/exhibitors/<int:exhibitor_id>/delete")
@guard("manage_events")
def exhibitor_delete(exhibitor_id: int) -> Any:
    ex = shell.get_or_404(Exhibitor, exhibitor_id)
    event_id = ex.event_id
    if ConfirmForm().validate_on_submit():
        services.remove_exhibitor(shell.session(), actor=shell.me(), exhibitor=ex)
        shell.session().commit()
        flash(_("Exhibitor removed."), "info")
    return redirect(url_for("fairs_admin.event", event_id=event_id))
