"""The workspace's records: producers, products, photos, certificates and selection rounds.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlmodel import col, select

from catalogue.accounts import permissions
from catalogue.accounts.login import guard
from catalogue.accounts.models import User
from catalogue.audit import trail
from catalogue.places.models import Province
from catalogue.registry import (
    certificates,
    editing,
    finder,
    gtins,
    ownership,
    product_photos,
    record_export,
)
from catalogue.registry import photos as media
from catalogue.registry.forms import (
    CertificateForm,
    NewCertificateForm,
    PhotoForm,
    ProducerForm,
    ProductForm,
    ReinstateForm,
    RevokeForm,
    RoundForm,
)
from catalogue.registry.models import Certificate, CertificateEvent, Photo, Producer, Product, SelectionRound
from catalogue.registry.provenance import provenance_for
from catalogue.registry.round_names import round_label
from catalogue.vocab import Level, ProducerKind, ProductGroup, Region
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm, choices

bp = shell.blueprint("records", __name__)


# ----------------------------------------------------------------------------- records


@bp.get("/records")
@guard()
def records() -> str:
    """The official's records, filtered, sorted and paged (every parameter read leniently)."""
    session = shell.session()
    me = shell.me()
    flt = finder.parse_filter(request.args)
    bulk = "decisions.new" in current_app.view_functions
    return render_template(
        "admin/records.html",
        found=finder.find(session, me, flt),
        flt=flt,
        args=finder.filter_args(flt),
        options=finder.choices(session, me),
        provinces=shell.provinces(),
        statuses=finder.STATUS_LABELS,
        sorts=finder.SORT_LABELS,
        levels=Level.by_rank(),
        export_limit=finder.EXPORT_LIMIT,
        bulk=bulk,
        certificate_total=finder.count(session, me, flt, certificates=True) if bulk else 0,
    )


@bp.get("/records.csv")
@guard()
def records_csv() -> Any:
    """The filter's whole result (not only the page shown) as CSV."""
    return _records_export("csv")


@bp.get("/records.xlsx")
@guard()
def records_xlsx() -> Any:
    """The filter's whole result (not only the page shown) as an Excel workbook."""
    return _records_export("xlsx")


def _records_export(fmt: str) -> Any:
    """The filter's result as a spreadsheet, bounded by :data:`finder.EXPORT_LIMIT`."""
    session, me, flt = shell.session(), shell.me(), finder.parse_filter(request.args)
    total = finder.count(session, me, flt)
    if total > finder.EXPORT_LIMIT:
        flash(record_export.too_many(total), "error")
        back: dict[str, Any] = finder.filter_args(flt, page=True)
        return redirect(url_for("records.records", **back))
    body, mimetype, name = record_export.spreadsheet(
        finder.export_rows(session, me, flt), shell.provinces(), fmt
    )
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"})


def _choices_kind() -> list[tuple[str, str]]:
    return [("", "—")] + [(k.value, k.label) for k in ProducerKind]


@bp.route("/producers/new", methods=["GET", "POST"])
@bp.route("/producers/<int:producer_id>", methods=["GET", "POST"])
@guard()
def producer(producer_id: int | None = None) -> Any:
    obj = shell.get_or_404(Producer, producer_id) if producer_id else None
    me = shell.me()
    if obj is not None:
        permissions.require(
            me,
            "edit_producer",
            province=shell.session().get(Province, obj.province_id) if obj.province_id else None,
        )
    form = ProducerForm(obj=obj)
    form.kind.choices = choices(_choices_kind())
    form.province_id.choices = shell.province_choices(
        blank="—" if shell.scope() is None else None, scope=shell.scope(), printed=True
    )
    if form.validate_on_submit():
        saved = shell.commit(
            lambda: editing.save_producer(
                shell.session(),
                actor=me,
                producer=obj,
                values=shell.form_values(form, editing.PRODUCER_FIELDS),
            ),
            _("Saved."),
        )
        if saved is not shell.FAILED:
            return redirect(url_for("records.producer", producer_id=saved.id))
    shell.form_errors(form)
    products = (
        list(shell.session().exec(select(Product).where(Product.producer_id == obj.id)).all()) if obj else []
    )
    return render_template(
        "admin/form.html",
        form=form,
        obj=obj,
        products=products,
        title=obj.name if obj else _("New producer"),
        submit=_("Save"),
        public_url=url_for("public.producer", slug=obj.slug) if obj else None,
    )


@bp.route("/products/new", methods=["GET", "POST"])
@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@guard()
def product(product_id: int | None = None) -> Any:
    session = shell.session()
    obj = shell.get_or_404(Product, product_id) if product_id else None
    me = shell.me()
    if obj is not None:
        ownership.require_product(session, me, obj)
    form = ProductForm(obj=obj)
    form.group.choices = choices([("", "—")] + [(g.value, g.label) for g in ProductGroup])
    form.producer_id.choices = shell.producer_choices(obj.producer_id if obj else None)
    form.province_id.choices = shell.province_choices(
        blank="—" if shell.scope() is None else None, scope=shell.scope(), printed=True
    )
    if obj is not None and not form.is_submitted():
        form.gtins.data = "\n".join(gtins.printed(g) for g in gtins.gtins_of(session, obj.id))
    if form.validate_on_submit():

        def save() -> tuple[Product, bool]:
            saved = editing.save_product(
                session, actor=me, product=obj, values=shell.form_values(form, editing.PRODUCT_FIELDS)
            )
            changed = obj is None or gtins.queued(session, saved.id or 0)  # asked before the GTINs' writes
            listed = gtins.replace_gtins(
                session, actor=me, product=saved, gtins=gtins.parse_gtins(form.gtins.data)
            )
            return saved, changed or listed

        done = shell.commit(save, lambda r: _("Saved.") if r[1] else _("Nothing changed."))
        if done is not shell.FAILED:
            return redirect(url_for("records.product", product_id=done[0].id))
    shell.form_errors(form)
    certificates: list[tuple[Certificate, SelectionRound]] = []
    photos: list[Photo] = []
    if obj is not None:
        certificates = list(
            session.exec(
                select(Certificate, SelectionRound)
                .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
                .where(Certificate.product_id == obj.id)
            ).all()
        )
        photos = list(
            session.exec(select(Photo).where(Photo.product_id == obj.id).order_by(col(Photo.position))).all()
        )
    return render_template(
        "admin/product.html",
        form=form,
        obj=obj,
        certificates=certificates,
        photos=photos,
        photo_form=PhotoForm(),
        confirm=ConfirmForm(),
        label_url=shell.label_url,
        title=obj.name if obj else _("New product"),
    )


@bp.post("/products/<int:product_id>/photos")
@guard()
def product_photo(product_id: int) -> Any:
    obj = shell.get_or_404(Product, product_id)
    ownership.require_product(shell.session(), shell.me(), obj)
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            product_photos.add_photo(
                shell.session(),
                actor=shell.me(),
                product=obj,
                data=form.file.data.read(media.MAX_PHOTO_BYTES + 1),
                alt=form.alt.data,
            )
            shell.session().commit()
            flash(_("Photo added."), "info")
        except media.PhotoRejected as exc:
            shell.session().rollback()
            flash(str(exc), "error")
    shell.form_errors(form)
    return redirect(url_for("records.product", product_id=product_id))


@bp.post("/photos/<int:photo_id>/delete")
@guard()
def photo_delete(photo_id: int) -> Any:
    photo = shell.get_or_404(Photo, photo_id)
    product_id = photo.product_id
    if ConfirmForm().validate_on_submit():
        product_photos.remove_photo(shell.session(), actor=shell.me(), photo=photo)
        shell.session().commit()
        flash(_("Photo removed."), "info")
    return redirect(url_for("records.product", product_id=product_id))


def _level_choices(me: User) -> list[tuple[str, str]]:
    return [(lvl.value, lvl.label) for lvl in permissions.publishable_levels(me)]


def _region_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(r.value, r.label) for r in Region]


@bp.route("/products/<int:product_id>/certificates/new", methods=["GET", "POST"])
@guard()
def certificate_new(product_id: int) -> Any:
    obj = shell.get_or_404(Product, product_id)
    me = shell.me()
    ownership.require_product(shell.session(), me, obj)
    form = NewCertificateForm()
    form.level.choices = choices(_level_choices(me))
    form.region.choices = choices(_region_choices())
    if form.validate_on_submit():
        try:
            level = Level(form.level.data)
        except ValueError:
            abort(400)
        cert = shell.commit(
            lambda: certificates.add_certificate(
                shell.session(),
                actor=me,
                product=obj,
                level=level,
                year=form.year.data or 0,
                number=form.number.data or "",
                region=Region(form.region.data) if form.region.data else None,
                issued_on=form.issued_on.data,
                expires_on=form.expires_on.data,
                decision_number=form.decision_number.data,
                decision_date=form.decision_date.data,
            ),
            _("Certificate added."),
        )
        if cert is not shell.FAILED:
            return redirect(url_for("records.certificate", cert_id=cert.id))
    shell.form_errors(form)
    return render_template(
        "admin/form.html",
        form=form,
        title=_("New certificate for %(name)s", name=obj.name),
        submit=_("Publish certificate"),
    )


def _certificate(cert_id: int, action: str) -> tuple[Certificate, SelectionRound]:
    session = shell.session()
    cert = shell.get_or_404(Certificate, cert_id)
    round_ = session.get(SelectionRound, cert.round_id)
    permissions.require(
        shell.me(),
        action,
        level=round_.level if round_ else None,
        province=session.get(Province, cert.province_id) if cert.province_id else None,
    )
    assert round_ is not None  # round_id is a required foreign key
    return cert, round_


@bp.route("/certificates/<int:cert_id>", methods=["GET", "POST"])
@guard()
def certificate(cert_id: int) -> Any:
    cert, round_ = _certificate(cert_id, "correct_certificate")
    session = shell.session()
    form = CertificateForm(obj=cert)
    if form.validate_on_submit():
        values = {n: getattr(form, n).data for n in certificates.CORRECTABLE}
        changes = shell.commit(
            lambda: certificates.correct_certificate(
                session, actor=shell.me(), certificate=cert, values=values, reason=form.reason.data
            ),
            lambda changes: _("Corrected.") if changes else _("Nothing changed."),
        )
        if changes is not shell.FAILED:
            return redirect(url_for("records.certificate", cert_id=cert.id))
    shell.form_errors(form)
    product = session.get(Product, cert.product_id)
    events = list(
        session.exec(
            select(CertificateEvent)
            .where(CertificateEvent.certificate_id == cert.id)
            .order_by(col(CertificateEvent.recorded_at))
        ).all()
    )
    return render_template(
        "admin/certificate.html",
        form=form,
        cert=cert,
        round=round_,
        product=product,
        events=events,
        history=trail.history_views(
            session,
            events,
            issued_on=cert.issued_on,
            year=round_.year if round_ else None,
            provinces=shell.provinces(),
        ),
        provenance=provenance_for(session, cert),
        revoke_form=RevokeForm(),
        reinstate_form=ReinstateForm(),
        label_url=shell.label_url,
    )


@bp.post("/certificates/<int:cert_id>/revoke")
@guard()
def revoke(cert_id: int) -> Any:
    cert, _round = _certificate(cert_id, "revoke")
    form = RevokeForm()
    if form.validate_on_submit():
        shell.commit(
            lambda: certificates.revoke_certificate(
                shell.session(),
                actor=shell.me(),
                certificate=cert,
                reason=form.reason.data or "",
                reference=form.reference.data or "",
                on=form.on.data,
            ),
            _("The certificate is revoked."),
        )
    shell.form_errors(form)
    return redirect(url_for("records.certificate", cert_id=cert_id))


@bp.post("/certificates/<int:cert_id>/reinstate")
@guard()
def reinstate(cert_id: int) -> Any:
    cert, _round = _certificate(cert_id, "revoke")
    form = ReinstateForm()
    if form.validate_on_submit():
        shell.commit(
            lambda: certificates.reinstate_certificate(
                shell.session(), actor=shell.me(), certificate=cert, reason=form.reason.data or ""
            ),
            _("The revocation is withdrawn."),
        )
    shell.form_errors(form)
    return redirect(url_for("records.certificate", cert_id=cert_id))


@bp.get("/rounds")
@guard()
def rounds() -> str:
    query = select(SelectionRound).order_by(col(SelectionRound.year).desc(), SelectionRound.slug).limit(300)
    scope = shell.scope()
    provinces = shell.provinces()
    if scope is not None:
        query = query.where(col(SelectionRound.province_id).in_(provinces.member_ids(provinces.by_id[scope])))
    rounds_ = shell.session().exec(query).all()
    me = shell.me()
    # Link only the rounds this official may edit (the ministry sees provincial rounds read-only).
    editable = {r.id for r in rounds_ if permissions.may_touch(me, ownership.round_owner(provinces, r))}
    return render_template(
        "admin/rounds.html", rounds=rounds_, editable=editable, provinces=provinces, label_url=shell.label_url
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@guard()
def round_(round_id: int | None = None) -> Any:
    session = shell.session()
    obj = shell.get_or_404(SelectionRound, round_id) if round_id else None
    me = shell.me()
    if obj is not None:
        permissions.require(
            me,
            "edit_round",
            level=obj.level,
            province=session.get(Province, obj.province_id) if obj.province_id else None,
        )
    form = RoundForm(obj=obj)
    form.level.choices = choices(_level_choices(me))
    form.region.choices = choices(_region_choices())
    form.province_id.choices = shell.province_choices(
        blank="—" if shell.scope() is None else None, scope=shell.scope(), printed=True
    )
    if form.validate_on_submit():
        saved = shell.commit(
            lambda: editing.save_round(
                session, actor=me, round_=obj, values=shell.form_values(form, editing.ROUND_FIELDS)
            ),
            _("Saved."),
        )
        if saved is not shell.FAILED:
            return redirect(url_for("records.round_", round_id=saved.id))
    shell.form_errors(form)
    return render_template(
        "admin/form.html",
        form=form,
        obj=obj,
        submit=_("Save"),
        title=round_label(obj, shell.provinces()) if obj else _("New selection round"),
        public_url=url_for("public.round_", slug=obj.slug) if obj else None,
    )
