"""Blueprint "admin": the officials' workspace (DESIGN §1, third path).

Views stay thin: they check the form, call one service, commit once, and say
what happened. Every route wears :func:`catalogue.accounts.login.guard` (tests walk the
URL map to prove it); object-level rules (province, level) are enforced by the
services through :mod:`catalogue.accounts.permissions`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlmodel import Session, col, func, or_, select
from werkzeug.exceptions import TooManyRequests
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from catalogue.accounts import login as auth
from catalogue.accounts import permissions
from catalogue.accounts import services as accounts
from catalogue.accounts import throttle as sign_in_throttle
from catalogue.accounts.login import actor, guard
from catalogue.accounts.models import User
from catalogue.audit import trail
from catalogue.audit.models import AuditEntry
from catalogue.clock import VIETNAM, today
from catalogue.db import get_engine, get_session
from catalogue.extensions import client_address
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.i18n import safe_next
from catalogue.imports import checking as importing
from catalogue.imports import files
from catalogue.imports.models import FakeReport, ImportBatch
from catalogue.jobs import service as jobs
from catalogue.jobs import tasks as job_tasks
from catalogue.jobs.models import Job
from catalogue.paging import Pager, page_number
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import editing, ownership, publishing
from catalogue.registry import photos as media
from catalogue.registry.models import Certificate, CertificateEvent, Photo, Producer, Product, SelectionRound
from catalogue.registry.round_names import round_label
from catalogue.text import fold, nfc
from catalogue.verification import services as verification
from catalogue.vocab import AUDIT_ACTIONS, AUDIT_ENTITIES, Level, ProducerKind, ProductGroup, Region
from catalogue.workspace.forms import (
    AuditFilterForm,
    CertificateForm,
    ConfirmForm,
    EventForm,
    ExhibitorForm,
    LoginForm,
    NewCertificateForm,
    PasswordForm,
    PhotoForm,
    ProducerForm,
    ProductForm,
    PublishForm,
    ReinstateForm,
    RevokeForm,
    RoundForm,
    UploadForm,
    UserForm,
    ZipForm,
    choices,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.record_once
def _wire(state: Any) -> None:
    auth.init_app(state.app)


@bp.app_template_global("round_label")
def _round_label(round_: SelectionRound) -> str:
    """A round as people say it (see :func:`catalogue.registry.round_names.round_label`)."""
    if "round_provinces" not in g:
        g.round_provinces = Provinces.load(get_session())
    return round_label(round_, g.round_provinces)


def _session() -> Session:
    return get_session()


T = TypeVar("T")

#: What :func:`_commit` returns when the service refused the change.
FAILED: Any = object()


def _commit(action: Callable[[], T], success: str | Callable[[T], str]) -> T:
    """Run one mutating service call and commit; a refused change rolls back and says why.

    Returns the service's result, or :data:`FAILED` (the form is shown again with the message).
    """
    session = _session()
    try:
        result = action()
        session.commit()
    except publishing.PublishError as exc:
        session.rollback()
        flash(str(exc), "error")
        return FAILED
    flash(success(result) if callable(success) else success, "info")
    return result


def _me() -> User:
    user = actor()
    assert user is not None  # guard() ran first
    return user


def _get(model: type, obj_id: int) -> Any:
    obj = _session().get(model, obj_id)
    if obj is None:
        abort(404)
    return obj


def _provinces() -> Provinces:
    return Provinces.load(_session())


def _province_choices(blank: str | None = None, scope: int | None = None, printed: bool = False) -> list[Any]:
    """Current provinces in scope; with ``printed``, each followed by its pre-2025 units.

    Records keep the province as printed on their certificate: a form that offered
    only current units would move a record printed under Quảng Nam to Đà Nẵng the
    moment an official saved it untouched.
    """
    provinces = _provinces()
    rows: list[tuple[int | None, str]] = []
    for unit in provinces.current():
        if scope is not None and unit.id != scope:
            continue
        rows.append((unit.id, unit.short_name))
        if printed:
            for old in sorted(provinces.predecessors(unit), key=lambda p: p.short_name):
                if old.id != unit.id:
                    rows.append((old.id, _("%(name)s (before 1/7/2025)", name=old.short_name)))
    return choices(([(0, blank)] if blank is not None else []) + rows)


def _producer_choices(current: int | None) -> list[Any]:
    """Producers an official may attach: their province's (every one for the ministry)."""
    query = select(Producer.id, Producer.name).order_by(Producer.name)
    scope = _scope()
    if scope is not None:
        provinces = _provinces()
        home = provinces.get(scope)
        ids = provinces.member_ids(home) if home is not None else set()
        query = query.where(or_(col(Producer.province_id).in_(ids), Producer.id == current))
    return choices([("", "—")] + list(_session().exec(query).all()))


def _form_errors(form: Any) -> None:
    for field_errors in form.errors.values():
        for message in field_errors:
            flash(str(message), "error")


@bp.context_processor
def _workspace_helpers() -> dict[str, Any]:
    return {"confirm_form": ConfirmForm, "thumb_key": lambda key: media.variant_key(key, "sm")}


@bp.after_request
def _private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(_exc: CSRFError) -> tuple[str, int]:
    return render_template(
        "admin/message.html",
        title=_("The form has expired"),
        message=_(
            "For your safety the form could not be accepted (its security token is missing or too old). "
            "Go back, reload the page and try again."
        ),
        status=400,
    ), 400


@bp.errorhandler(403)
def _forbidden(exc: Any) -> tuple[str, int]:
    return render_template(
        "admin/message.html", title=_("Not allowed"), message=getattr(exc, "description", None), status=403
    ), 403


# ----------------------------------------------------------------------------- signing in


def _too_many() -> str:
    return _("Too many sign-in attempts. Wait a few minutes and try again.")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    target = safe_next(request.values.get("next"), url_for("admin.index"))
    if request.method == "GET" and actor() is not None:
        return redirect(target)
    if request.method == "POST" and current_app.config["RATELIMIT_ENABLED"]:
        # Per e-mail and per address, counted in the database: shared by every worker.
        wait = sign_in_throttle.attempt(request.form.get("email", ""), client_address())
        if wait is not None:
            raise TooManyRequests(description=_too_many(), retry_after=wait)
    if form.validate_on_submit():
        user = accounts.authenticate(_session(), form.email.data or "", form.password.data or "")
        if user is not None:
            _session().commit()
            login_user(auth.Official(user))
            return redirect(target)
        flash(_("Wrong e-mail or password, or the account is deactivated."), "error")
    return render_template("admin/login.html", form=form, next=target)


@bp.post("/logout")
@guard()
def logout() -> Any:
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("admin.login"))


@bp.get("/")
@guard()
def index() -> str:
    me = _me()
    batches = importing.visible_batches(_session(), actor=me, limit=10)
    province = _session().get(Province, me.province_id) if me.province_id else None
    last_rebuild = jobs.latest_rebuild(_session()) if permissions.can(me, "rebuild_search") else None
    return render_template(
        "admin/index.html",
        batches=batches,
        province=province,
        levels=importing.levels_label(me),
        can=permissions.can,
        me=me,
        rebuild=jobs.status(last_rebuild) if last_rebuild else None,
    )


@bp.route("/password", methods=["GET", "POST"])
@guard("change_password")
def password() -> Any:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.change_password(
                _session(), actor=_me(), current=form.current.data or "", new=form.new.data or ""
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            _session().commit()
            login_user(auth.Official(user))  # this session carries the new version
            flash(_("Password changed. Your other sessions have been signed out."), "info")
            return redirect(url_for("admin.index"))
    _form_errors(form)
    return render_template(
        "admin/form.html", form=form, title=_("Change password"), submit=_("Change password")
    )


# ----------------------------------------------------------------------------- accounts


@bp.route("/users", methods=["GET", "POST"])
@guard("manage_users")
def users() -> Any:
    form = UserForm()
    form.province_id.choices = _province_choices(blank="—")
    if form.validate_on_submit():
        province = _session().get(Province, form.province_id.data) if form.province_id.data else None
        try:
            user = accounts.create_user(
                _session(),
                actor=_me(),
                email=form.email.data or "",
                password=form.password.data or "",
                role=form.role.data or "",
                province=province,
                name=form.name.data,
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            _session().commit()
            flash(_("Account %(email)s created.", email=user.email), "info")
            return redirect(url_for("admin.users"))
    _form_errors(form)
    rows = accounts.list_users(_session(), actor=_me())
    provinces = _provinces()
    return render_template(
        "admin/users.html", form=form, users=rows, provinces=provinces, confirm=ConfirmForm()
    )


@bp.post("/users/<int:user_id>/active")
@guard("manage_users")
def user_active(user_id: int) -> Any:
    if ConfirmForm().validate_on_submit():
        user = _get(User, user_id)
        try:
            accounts.set_active(_session(), actor=_me(), user=user, active=request.form.get("active") == "1")
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            _session().commit()
            flash(_("Account %(email)s updated.", email=user.email), "info")
    return redirect(url_for("admin.users"))


# ----------------------------------------------------------------------------- imports


@bp.route("/imports", methods=["GET", "POST"])
@guard("import")
def imports() -> Any:
    form = UploadForm()
    me = _me()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        # Whole (MAX_CONTENT_LENGTH bounds it), so a refusal can state the file's real size.
        data = upload.read()
        report = _dry_run(me, upload.filename or "upload", data)
        if not isinstance(report, importing.ImportReport):
            return report
    _form_errors(form)
    batches = importing.visible_batches(_session(), actor=me)
    return render_template(
        "admin/imports.html", form=form, report=report, batches=batches, levels=importing.levels_label(me),
        jobs=[jobs.status(j) for j in jobs.visible_jobs(_session(), actor=me, limit=10)],
    ), 400 if report else 200  # fmt: skip


def _dry_run(me: User, filename: str, data: bytes) -> Any:
    """Check the file in a background job; go to the upload when it is done, else to the job.

    A file that cannot be read at all comes back as a report for the upload page.
    """
    try:  # an empty, oversized, old .xls or password-protected file is refused at once
        files.sniff(data)
    except importing.ImportFileError as exc:
        report = importing.ImportReport(filename=filename, sha256=importing.sha256(data))
        report.file_errors.append(str(exc))
        return report
    session = _session()
    job = jobs.create(
        session, kind="dry_run", actor=me, province_id=me.province_id,
        params={"filename": filename[:300]}, data=data, locale=str(get_locale() or "vi"),
    )  # fmt: skip
    job = jobs.submit(session, job)
    if job.state == "done" and job.batch_id:
        return redirect(url_for("admin.batch", batch_id=job.batch_id))
    if job.state == "done" and (job.result or {}).get("file_errors"):
        report = importing.ImportReport(filename=filename, sha256=importing.sha256(data))
        report.file_errors = list((job.result or {})["file_errors"])
        return report
    return redirect(url_for("jobs.job", job_id=job.id))


@bp.get("/imports/template.xlsx")
@guard("import")
def import_template() -> Response:
    data = importing.template_xlsx(_provinces())
    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = 'attachment; filename="mau-danh-sach-san-pham-cnnt.xlsx"'
    return response


def _batch(batch_id: int) -> ImportBatch:
    batch = _get(ImportBatch, batch_id)
    permissions.require(_me(), "view_batch", province=batch.province_id)
    return batch


@bp.get("/imports/<int:batch_id>")
@guard("import")
def batch(batch_id: int) -> str:
    batch = _batch(batch_id)
    me = _me()
    batch_jobs = jobs.visible_jobs(_session(), actor=me, batch_id=batch.id, limit=5)
    busy = any(jobs.effective_state(j) in jobs.ACTIVE for j in batch_jobs)
    report = _batch_report(batch, batch_jobs) if batch.state == "pending" and not busy else None
    certificates = (
        publishing.batch_certificates(_session(), actor=me, batch=batch) if batch.state == "published" else []
    )
    products = (
        {
            p.id: p
            for p in _session()
            .exec(select(Product).where(col(Product.id).in_({c.product_id for c in certificates})))
            .all()
        }
        if certificates
        else {}
    )
    publish_form = PublishForm(decision_number=batch.decision_number)
    return render_template(
        "admin/batch.html",
        batch=batch,
        report=report,
        publish_form=publish_form,
        confirm=ConfirmForm(),
        zip_form=ZipForm(),
        certificates=certificates,
        products=products,
        twin=importing.published_twin(_session(), batch),
        column_label=importing.column_label,
        rounds=_rounds_of(certificates),
        label_url=_label_url,
        jobs=[jobs.status(j) for j in batch_jobs[:1]],
        busy=busy,
    )


#: A pending upload up to this many rows is checked again on each view; a larger one
#: shows its background dry run (the check is repeated when publishing anyway).
RECHECK_ROWS = 1000


def _batch_report(batch: ImportBatch, batch_jobs: list[Job]) -> importing.ImportReport | None:
    if batch.row_count <= RECHECK_ROWS:
        return importing.check_batch(_session(), actor=_me(), batch=batch)
    for job in batch_jobs:
        if job.kind == "dry_run" and job.state == "done" and job.result:
            return job_tasks.report_from_json(job.result, batch.file_sha256)
    return None


def _rounds_of(certificates: list[Certificate]) -> list[SelectionRound]:
    ids = {c.round_id for c in certificates}
    if not ids:
        return []
    return list(_session().exec(select(SelectionRound).where(col(SelectionRound.id).in_(ids))).all())


def _label_url(endpoint: str, **values: Any) -> str | None:
    """A link into the verification pages (QR labels) when that blueprint offers it."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


@bp.post("/imports/<int:batch_id>/publish")
@guard("import")
def publish(batch_id: int) -> Any:
    batch = _batch(batch_id)
    form = PublishForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return redirect(url_for("admin.batch", batch_id=batch_id))
    session = _session()
    if batch.state != "pending":
        flash(
            _(
                "This batch is %(state)s; only a pending batch can be published.",
                state=publishing.BATCH_STATES.get(batch.state, batch.state),
            ),
            "error",
        )
        return redirect(url_for("admin.batch", batch_id=batch_id))
    if any(
        jobs.effective_state(j) in jobs.ACTIVE
        for j in jobs.visible_jobs(session, actor=_me(), batch_id=batch.id, limit=5)
    ):
        flash(_("This upload is already being worked on; wait for that job to finish."), "error")
        return redirect(url_for("admin.batch", batch_id=batch_id))
    decision_date = form.decision_date.data
    job = jobs.create(
        session, kind="publish", actor=_me(), province_id=batch.province_id, batch_id=batch.id,
        params={"decision_number": form.decision_number.data or None,
                "decision_date": decision_date.isoformat() if decision_date else None},
        locale=str(get_locale() or "vi"),
    )  # fmt: skip
    job = jobs.submit(session, job)
    if job.state in ("done", "failed"):  # finished already (a small batch, or jobs run inline)
        flash(job.message or "", "info" if job.state == "done" else "error")
    return redirect(url_for("admin.batch", batch_id=batch_id))


@bp.post("/imports/<int:batch_id>/discard")
@guard("import")
def discard(batch_id: int) -> Any:
    batch = _batch(batch_id)
    if ConfirmForm().validate_on_submit():
        try:
            publishing.discard_batch(_session(), actor=_me(), batch=batch)
            _session().commit()
            flash(_("The upload was discarded."), "info")
        except publishing.PublishError as exc:
            flash(str(exc), "error")
    return redirect(url_for("admin.imports"))


@bp.post("/imports/<int:batch_id>/photos")
@guard("import")
def batch_photos(batch_id: int) -> Any:
    batch = _batch(batch_id)
    form = ZipForm()
    if form.validate_on_submit():
        data = form.file.data.read(media.MAX_ZIP_BYTES + 1)
        if batch.state != "published":
            flash(_("Publish the batch first, then add its photos."), "error")
        elif len(data) > media.MAX_ZIP_BYTES:
            try:
                media.zip_images(data)  # says how large a zip may be
            except media.PhotoRejected as exc:
                flash(str(exc), "error")
        else:
            session = _session()
            job = jobs.create(
                session, kind="photo_zip", actor=_me(), province_id=batch.province_id, batch_id=batch.id,
                data=data, locale=str(get_locale() or "vi"),
            )  # fmt: skip
            job = jobs.submit(session, job)
            if job.state in ("done", "failed"):
                status = jobs.status(job)
                flash(status["message"] or "", "info" if job.state == "done" else "error")
                for problem in status["result"].get("problems", []):
                    flash(problem, "error")
    _form_errors(form)
    return redirect(url_for("admin.batch", batch_id=batch_id))


@bp.get("/imports/<int:batch_id>/qr.zip")
@guard("import")
def batch_qr(batch_id: int) -> Any:
    """Every QR code of a published batch as PNG files named by certificate number.

    A large batch's zip is built by a job; this then sends the official to its page.
    """
    from catalogue.verification import exports

    batch = _batch(batch_id)
    certificates = publishing.batch_certificates(_session(), actor=_me(), batch=batch)
    if len(certificates) > exports.INLINE_QR_CODES:
        session = _session()
        job = jobs.create(
            session, kind="qr_zip", actor=_me(), province_id=batch.province_id, batch_id=batch.id,
            locale=str(get_locale() or "vi"),
        )  # fmt: skip
        job = jobs.submit(session, job)
        return redirect(url_for("jobs.job", job_id=job.id))
    data = exports.qr_zip_bytes(
        certificates, engine=get_engine(), base=current_app.config["PUBLIC_BASE_URL"], day=today()
    )
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="qr-batch-{batch.id}.zip"'
    return response


# ----------------------------------------------------------------------------- records


def _scope() -> int | None:
    return permissions.province_scope(_me())


@bp.get("/records")
@guard()
def records() -> str:
    session = _session()
    q = nfc(request.args.get("q", ""))[:100]
    provinces = _provinces()
    query = select(Product).order_by(col(Product.updated_at).desc()).limit(100)
    scope = _scope()
    if scope is not None:
        current = provinces.by_id[scope]
        query = query.where(col(Product.province_id).in_(provinces.member_ids(current)))
    if q:
        query = query.where(
            or_(col(Product.slug).contains(fold(q).replace(" ", "-")), col(Product.name).contains(q))
        )
    products = list(session.exec(query).all())
    producers = {
        p.id: p
        for p in session.exec(
            select(Producer).where(col(Producer.id).in_({p.producer_id for p in products if p.producer_id}))
        ).all()
    }
    return render_template(
        "admin/records.html", products=products, producers=producers, q=q, provinces=provinces
    )


def _choices_kind() -> list[tuple[str, str]]:
    return [("", "—")] + [(k.value, k.label) for k in ProducerKind]


def _blank_to_none(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if v in ("", 0) and k.endswith(("_id", "kind", "group", "region")) else v)
        for k, v in data.items()
    }


def _form_values(form: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return _blank_to_none({n: getattr(form, n).data for n in names if hasattr(form, n)})


@bp.route("/producers/new", methods=["GET", "POST"])
@bp.route("/producers/<int:producer_id>", methods=["GET", "POST"])
@guard()
def producer(producer_id: int | None = None) -> Any:
    obj = _get(Producer, producer_id) if producer_id else None
    me = _me()
    if obj is not None:
        permissions.require(
            me,
            "edit_producer",
            province=_session().get(Province, obj.province_id) if obj.province_id else None,
        )
    form = ProducerForm(obj=obj)
    form.kind.choices = choices(_choices_kind())
    form.province_id.choices = _province_choices(
        blank="—" if _scope() is None else None, scope=_scope(), printed=True
    )
    if form.validate_on_submit():
        saved = _commit(
            lambda: editing.save_producer(
                _session(), actor=me, producer=obj, values=_form_values(form, editing.PRODUCER_FIELDS)
            ),
            _("Saved."),
        )
        if saved is not FAILED:
            return redirect(url_for("admin.producer", producer_id=saved.id))
    _form_errors(form)
    products = (
        list(_session().exec(select(Product).where(Product.producer_id == obj.id)).all()) if obj else []
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
    session = _session()
    obj = _get(Product, product_id) if product_id else None
    me = _me()
    if obj is not None:
        publishing.require_product(session, me, obj)
    form = ProductForm(obj=obj)
    form.group.choices = choices([("", "—")] + [(g.value, g.label) for g in ProductGroup])
    form.producer_id.choices = _producer_choices(obj.producer_id if obj else None)
    form.province_id.choices = _province_choices(
        blank="—" if _scope() is None else None, scope=_scope(), printed=True
    )
    if form.validate_on_submit():
        saved = _commit(
            lambda: editing.save_product(
                session, actor=me, product=obj, values=_form_values(form, editing.PRODUCT_FIELDS)
            ),
            _("Saved."),
        )
        if saved is not FAILED:
            return redirect(url_for("admin.product", product_id=saved.id))
    _form_errors(form)
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
        label_url=_label_url,
        title=obj.name if obj else _("New product"),
    )


@bp.post("/products/<int:product_id>/photos")
@guard()
def product_photo(product_id: int) -> Any:
    obj = _get(Product, product_id)
    publishing.require_product(_session(), _me(), obj)
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            publishing.add_photo(
                _session(),
                actor=_me(),
                product=obj,
                data=form.file.data.read(media.MAX_PHOTO_BYTES + 1),
                alt=form.alt.data,
            )
            _session().commit()
            flash(_("Photo added."), "info")
        except media.PhotoRejected as exc:
            _session().rollback()
            flash(str(exc), "error")
    _form_errors(form)
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/photos/<int:photo_id>/delete")
@guard()
def photo_delete(photo_id: int) -> Any:
    photo = _get(Photo, photo_id)
    product_id = photo.product_id
    if ConfirmForm().validate_on_submit():
        publishing.remove_photo(_session(), actor=_me(), photo=photo)
        _session().commit()
        flash(_("Photo removed."), "info")
    return redirect(url_for("admin.product", product_id=product_id))


def _level_choices(me: User) -> list[tuple[str, str]]:
    return [(lvl.value, lvl.label) for lvl in importing.levels_label(me)]


def _region_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(r.value, r.label) for r in Region]


@bp.route("/products/<int:product_id>/certificates/new", methods=["GET", "POST"])
@guard()
def certificate_new(product_id: int) -> Any:
    obj = _get(Product, product_id)
    me = _me()
    publishing.require_product(_session(), me, obj)
    form = NewCertificateForm()
    form.level.choices = choices(_level_choices(me))
    form.region.choices = choices(_region_choices())
    if form.validate_on_submit():
        try:
            level = Level(form.level.data)
        except ValueError:
            abort(400)
        cert = _commit(
            lambda: publishing.add_certificate(
                _session(),
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
        if cert is not FAILED:
            return redirect(url_for("admin.certificate", cert_id=cert.id))
    _form_errors(form)
    return render_template(
        "admin/form.html",
        form=form,
        title=_("New certificate for %(name)s", name=obj.name),
        submit=_("Publish certificate"),
    )


def _certificate(cert_id: int, action: str) -> tuple[Certificate, SelectionRound]:
    session = _session()
    cert = _get(Certificate, cert_id)
    round_ = session.get(SelectionRound, cert.round_id)
    permissions.require(
        _me(),
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
    session = _session()
    form = CertificateForm(obj=cert)
    if form.validate_on_submit():
        values = {n: getattr(form, n).data for n in publishing.CORRECTABLE}
        changes = _commit(
            lambda: publishing.correct_certificate(
                session, actor=_me(), certificate=cert, values=values, reason=form.reason.data
            ),
            lambda changes: _("Corrected.") if changes else _("Nothing changed."),
        )
        if changes is not FAILED:
            return redirect(url_for("admin.certificate", cert_id=cert.id))
    _form_errors(form)
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
            provinces=_provinces(),
        ),
        provenance=publishing.provenance_for(session, cert),
        revoke_form=RevokeForm(),
        reinstate_form=ReinstateForm(),
        label_url=_label_url,
    )


@bp.post("/certificates/<int:cert_id>/revoke")
@guard()
def revoke(cert_id: int) -> Any:
    cert, _round = _certificate(cert_id, "revoke")
    form = RevokeForm()
    if form.validate_on_submit():
        _commit(
            lambda: publishing.revoke_certificate(
                _session(),
                actor=_me(),
                certificate=cert,
                reason=form.reason.data or "",
                reference=form.reference.data or "",
                on=form.on.data,
            ),
            _("The certificate is revoked."),
        )
    _form_errors(form)
    return redirect(url_for("admin.certificate", cert_id=cert_id))


@bp.post("/certificates/<int:cert_id>/reinstate")
@guard()
def reinstate(cert_id: int) -> Any:
    cert, _round = _certificate(cert_id, "revoke")
    form = ReinstateForm()
    if form.validate_on_submit():
        _commit(
            lambda: publishing.reinstate_certificate(
                _session(), actor=_me(), certificate=cert, reason=form.reason.data or ""
            ),
            _("The revocation is withdrawn."),
        )
    _form_errors(form)
    return redirect(url_for("admin.certificate", cert_id=cert_id))


@bp.get("/rounds")
@guard()
def rounds() -> str:
    query = select(SelectionRound).order_by(col(SelectionRound.year).desc(), SelectionRound.slug).limit(300)
    scope = _scope()
    provinces = _provinces()
    if scope is not None:
        query = query.where(col(SelectionRound.province_id).in_(provinces.member_ids(provinces.by_id[scope])))
    rounds_ = _session().exec(query).all()
    me = _me()
    # Link only the rounds this official may edit (the ministry sees provincial rounds read-only).
    editable = {r.id for r in rounds_ if permissions.may_touch(me, ownership.round_owner(provinces, r))}
    return render_template(
        "admin/rounds.html", rounds=rounds_, editable=editable, provinces=provinces, label_url=_label_url
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@guard()
def round_(round_id: int | None = None) -> Any:
    session = _session()
    obj = _get(SelectionRound, round_id) if round_id else None
    me = _me()
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
    form.province_id.choices = _province_choices(
        blank="—" if _scope() is None else None, scope=_scope(), printed=True
    )
    if form.validate_on_submit():
        saved = _commit(
            lambda: editing.save_round(
                session, actor=me, round_=obj, values=_form_values(form, editing.ROUND_FIELDS)
            ),
            _("Saved."),
        )
        if saved is not FAILED:
            return redirect(url_for("admin.round_", round_id=saved.id))
    _form_errors(form)
    return render_template(
        "admin/form.html",
        form=form,
        obj=obj,
        submit=_("Save"),
        title=round_label(obj, _provinces()) if obj else _("New selection round"),
        public_url=url_for("public.round_", slug=obj.slug) if obj else None,
    )


# ----------------------------------------------------------------------------- fairs and showrooms


@bp.get("/events")
@guard("manage_events")
def events() -> str:
    rows = _session().exec(select(Event).order_by(col(Event.start_date).desc())).all()
    return render_template("admin/events.html", events=rows)


@bp.route("/events/new", methods=["GET", "POST"])
@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
@guard("manage_events")
def event(event_id: int | None = None) -> Any:
    session = _session()
    obj = _get(Event, event_id) if event_id else None
    form = EventForm(obj=obj)
    form.province_id.choices = _province_choices(blank="—")
    if form.validate_on_submit():
        saved = _commit(
            lambda: editing.save_event(
                session, actor=_me(), event=obj, values=_form_values(form, editing.EVENT_FIELDS)
            ),
            _("Saved."),
        )
        if saved is not FAILED:
            return redirect(url_for("admin.event", event_id=saved.id))
    _form_errors(form)
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
    session = _session()
    obj = _get(Event, event_id)
    form = ExhibitorForm()
    if form.validate_on_submit():
        producer_row = session.get(Producer, form.producer_id.data)
        raw_ids = [p.strip() for p in (form.product_ids.data or "").split(",") if p.strip()]
        if producer_row is None or not all(p.isdigit() for p in raw_ids):
            flash(_("Unknown producer or product number."), "error")
            return redirect(url_for("admin.event", event_id=event_id))
        if raw_ids:
            found = [session.get(Product, int(p)) for p in raw_ids]
            shown = [p for p in found if p is not None]
            if len(shown) < len(found):
                flash(_("Unknown producer or product number."), "error")
                return redirect(url_for("admin.event", event_id=event_id))
        else:
            shown = list(session.exec(select(Product).where(Product.producer_id == producer_row.id)).all())
        _commit(
            lambda: editing.add_exhibitor(
                session, actor=_me(), event=obj, producer=producer_row, booth=form.booth.data, products=shown
            ),
            _("Exhibitor added."),
        )
    _form_errors(form)
    return redirect(url_for("admin.event", event_id=event_id))


@bp.post("/exhibitors/<int:exhibitor_id>/delete")
@guard("manage_events")
def exhibitor_delete(exhibitor_id: int) -> Any:
    ex = _get(Exhibitor, exhibitor_id)
    event_id = ex.event_id
    if ConfirmForm().validate_on_submit():
        editing.remove_exhibitor(_session(), actor=_me(), exhibitor=ex)
        _session().commit()
        flash(_("Exhibitor removed."), "info")
    return redirect(url_for("admin.event", event_id=event_id))


# ----------------------------------------------------------------------------- audit


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=VIETNAM)


@bp.get("/reports")
@guard("view_reports")
def reports() -> str:
    """Consumers' reports of suspected fakes, for the officials of the certificate's province."""
    rows = verification.list_reports(_session(), province_id=_scope())
    return render_template("admin/reports.html", rows=rows, provinces=_provinces())


@bp.get("/reports/<int:report_id>/photo")
@guard("view_reports")
def report_photo(report_id: int) -> Response:
    report = _get(FakeReport, report_id)
    permissions.require(_me(), "view_report", province=report.province_id)
    if report.photo_key is None:
        abort(404)
    # Report photos live outside the public media folder: only officials see them.
    folder = current_app.config["CATALOGUE_DATA_DIR"] / "reports"
    response = send_from_directory(folder, media.variant_key(report.photo_key, "md", "jpg"))
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


class _AuditFilter(AuditFilterForm):
    """The audit log's filters: who, where, when, which action and which record."""

    action = SelectField(_l("Action"), validate_choice=False)
    entity_type = SelectField(_l("Kind of record"), validate_choice=False)
    record = StringField(_l("Record (number or words)"), validators=[Optional(), Length(max=200)])


#: The action filter's value that also shows sign-ins (the default view hides them).
_EVERY_ACTION = "all"


@bp.get("/audit")
@guard("view_audit")
def audit_log() -> str:
    """The workspace trail, in the official's language, newest first, 50 a page."""
    session = _session()
    form = _AuditFilter(request.args)
    scope = _scope()
    form.province_id.choices = _province_choices(
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
    provinces = _provinces()
    # Page links keep the filters (and only them: no stray url_for options from the URL).
    filters = {k: v for k, v in request.args.items() if v and (k in form._fields or k == "lang")}
    return render_template(
        "admin/audit.html",
        form=form,
        entries=trail.entry_views(session, entries, provinces),
        pager=pager,
        filters=filters,
    )


# The assumed-validity settings (and their public page) join this blueprint.
from catalogue.registry import validity_views as _validity_views  # noqa: E402, F401
