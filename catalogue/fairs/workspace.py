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
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlmodel import col, select

from catalogue.accounts.login import guard
from catalogue.fairs import services
from catalogue.fairs.forms import EventForm, ExhibitorForm, ExhibitorSearchForm
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.registry.models import Producer, Product
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm, choices

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
        search_form=ExhibitorSearchForm(formdata=None),
        confirm=ConfirmForm(),
        title=obj.name if obj else _("New fair or showroom"),
    )


@bp.get("/events/<int:event_id>/exhibitors")
@guard("manage_events")
def exhibitor_add(event_id: int) -> Any:
    """Adding an exhibitor, step one: find its producer by name; each match offers its certified products."""
    obj = shell.get_or_404(Event, event_id)
    search = ExhibitorSearchForm(request.args)
    query = (search.q.data or "").strip() if search.validate() else ""
    shell.form_errors(search)
    found = services.producer_matches(shell.session(), actor=shell.me(), query=query, event=obj)
    return render_template(
        "admin/exhibitor_add.html",
        obj=obj,
        search_form=search,
        query=query,
        found=found,
        limit=services.MATCH_LIMIT,
        entry=ExhibitorForm(formdata=None),
        title=_("Add an exhibitor to %(name)s", name=obj.name),
    )


@bp.post("/events/<int:event_id>/exhibitors")
@guard("manage_events")
def exhibitor_save(event_id: int) -> Any:
    """Step two: the chosen producer with its booth and the ticked products."""
    session = shell.session()
    obj = shell.get_or_404(Event, event_id)
    form = ExhibitorForm()
    raw = form.producer.data or ""
    producer = session.get(Producer, int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    if producer is None:
        flash(_("Choose the producer from the names found."), "error")
        return redirect(url_for("fairs_admin.exhibitor_add", event_id=event_id))
    back = redirect(url_for("fairs_admin.exhibitor_add", event_id=event_id, q=producer.name))
    offered = services.certified_products(session, producer)
    form.products.choices = choices((p.id, p.name) for p in offered)
    if not form.validate_on_submit():
        shell.form_errors(form)
        return back
    ticked = set(form.products.data or [])
    shown = [p for p in offered if p.id in ticked]
    if offered and not shown:
        flash(_("Tick at least one of the producer's certified products."), "error")
        return back
    saved = shell.commit(
        lambda: services.add_exhibitor(
            session, actor=shell.me(), event=obj, producer=producer, booth=form.booth.data, products=shown
        ),
        _("%(name)s added as an exhibitor.", name=producer.name),
    )
    return back if saved is shell.FAILED else redirect(url_for("fairs_admin.event", event_id=event_id))


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
