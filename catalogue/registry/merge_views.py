"""The workspace's merges of duplicate producers and products: choose, preview, confirm, undo.

A blueprint of its own ("merges"), beside the records pages it starts from, so the records
workspace stays the size it is; every route wears :func:`catalogue.accounts.login.guard`
and the rules live in :mod:`catalogue.registry.merging`.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlmodel import col, or_, select

from catalogue.accounts import permissions
from catalogue.accounts.login import guard
from catalogue.accounts.models import User
from catalogue.audit.trail import field_label
from catalogue.db import pk
from catalogue.places.services import Provinces
from catalogue.refused import Refused
from catalogue.registry import merging, ownership, unmerging
from catalogue.registry.forms import MergeForm
from catalogue.registry.models import MergeRecord, Producer, Product
from catalogue.vocab import ProducerKind, ProductGroup
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm, choices

bp = shell.blueprint("merges", __name__)

#: The fields shown side by side in a preview.
SHOWN = {
    "producer": ("name", "slug", "kind", "address", "commune", "province_id", "phone", "email", "website",
                 "source"),
    "product": ("name", "slug", "group", "producer_id", "locality", "province_id", "description",
                "components"),
}  # fmt: skip
_EDIT_ACTION = {"producer": "edit_producer", "product": "edit_product"}


def _owned(kind: str, record_id: int) -> Any:
    """The record, if the signed-in official may change it (404 when unknown, 403 when not theirs)."""
    session = shell.session()
    obj = shell.get_or_404(merging.KINDS[kind], record_id)
    permissions.require(shell.me(), "use_workspace")
    permissions.require_touch(shell.me(), ownership.record_owner(session, shell.provinces(), obj))
    return obj


def _candidates(kind: str, survivor: Any) -> list[Any]:
    """Records of the same province (for a product, of the same producer or none) to offer as duplicates."""
    session, provinces = shell.session(), shell.provinces()
    model = merging.KINDS[kind]
    owner = ownership.record_owner(session, provinces, survivor)
    home = provinces.get(owner.province_id)
    ids = provinces.member_ids(home) if home is not None else set()
    in_province = col(model.province_id).in_(ids) if ids else col(model.province_id).is_(None)
    where: Any = in_province
    if model is Product and survivor.producer_id:
        where = or_(Product.producer_id == survivor.producer_id, in_province)
    rows = session.exec(
        select(model.id, model.name).where(where, model.id != survivor.id).order_by(model.name).limit(500)
    ).all()
    return choices([("", "—")] + [(i, f"{name} (#{i})") for i, name in rows])


def _shown(kind: str, value: Any, field: str, provinces: Provinces) -> str:
    if value in (None, ""):
        return "—"
    if field == "province_id":
        found = provinces.get(value)
        return found.short_name if found is not None else f"#{value}"
    if field == "producer_id":
        producer = shell.session().get(Producer, value)
        return producer.name if producer is not None else f"#{value}"
    vocab: Any = {"kind": ProducerKind, "group": ProductGroup}.get(field)
    if vocab is not None:
        try:
            return str(vocab(value).label)
        except ValueError:
            return str(value)
    return str(value)


def _side_by_side(seen: merging.Preview) -> list[tuple[str, str, str, bool]]:
    """``(label, survivor's value, duplicate's value, filled from the duplicate)`` per field."""
    provinces = shell.provinces()

    def label(name: str) -> str:
        return _("Public address") if name == "slug" else field_label(seen.kind, name)

    return [
        (label(name), _shown(seen.kind, getattr(seen.survivor, name), name, provinces),
         _shown(seen.kind, getattr(seen.duplicate, name), name, provinces), name in seen.fills)
        for name in SHOWN[seen.kind]
    ]  # fmt: skip


def _merge_page(kind: str, record_id: int) -> Any:
    survivor = _owned(kind, record_id)
    form = MergeForm()
    form.duplicate_id.choices = _candidates(kind, survivor)
    seen: merging.Preview | None = None
    if form.validate_on_submit():
        if not form.duplicate_id.data:
            flash(_("Choose the duplicate to merge into this record."), "error")
        else:
            duplicate = shell.session().get(merging.KINDS[kind], form.duplicate_id.data)
            if duplicate is None:
                return _already_merged(kind, int(form.duplicate_id.data))
            if form.confirm.data:
                done = shell.commit(
                    lambda: merging.merge(
                        shell.session(), actor=shell.me(), kind=kind, survivor=survivor, duplicate=duplicate,
                        token=form.token.data or "", fill_blanks=bool(form.fill_blanks.data),
                    ),
                    _("Merged. The duplicate's address now leads here; you can undo the merge below."),
                )  # fmt: skip
                if done is not shell.FAILED:
                    return redirect(url_for("merges.merge", merge_id=done.id))
                survivor = _owned(kind, record_id)
                duplicate = shell.get_or_404(merging.KINDS[kind], form.duplicate_id.data)
            try:
                seen = merging.preview(
                    shell.session(), actor=shell.me(), kind=kind, survivor=survivor, duplicate=duplicate
                )
            except Refused as exc:
                flash(str(exc), "error")
            if seen is not None:
                form.token.data = seen.token
                if not form.confirm.data:
                    form.fill_blanks.data = True
    shell.form_errors(form)
    return render_template(
        "admin/merge.html", kind=kind, survivor=survivor, form=form, seen=seen,
        rows=_side_by_side(seen) if seen is not None else [],
        back=url_for(f"records.{kind}", **{f"{kind}_id": survivor.id}),
    )  # fmt: skip


def _already_merged(kind: str, duplicate_id: int) -> Any:
    """A confirmation sent again (a reload, a second tab): the duplicate is gone, merged already."""
    done = (
        shell.session()
        .exec(
            select(MergeRecord)
            .where(MergeRecord.kind == kind, MergeRecord.duplicate_id == duplicate_id)
            .where(col(MergeRecord.undone_at).is_(None))
            .order_by(col(MergeRecord.id).desc())
        )
        .first()
    )
    if done is None:
        abort(404)
    flash(_("This duplicate has already been merged."), "info")
    return redirect(url_for("merges.merge", merge_id=done.id))


@bp.route("/producers/<int:producer_id>/merge", methods=["GET", "POST"])
@guard()
def producer(producer_id: int) -> Any:
    return _merge_page("producer", producer_id)


@bp.route("/products/<int:product_id>/merge", methods=["GET", "POST"])
@guard()
def product(product_id: int) -> Any:
    return _merge_page("product", product_id)


def _merge_record(merge_id: int) -> MergeRecord:
    record: MergeRecord = shell.get_or_404(MergeRecord, merge_id)
    permissions.require(shell.me(), _EDIT_ACTION[record.kind], province=record.province_id)
    return record


def _names(records: list[MergeRecord]) -> dict[tuple[str, int | None], str]:
    """Current names of the survivors, one query per kind."""
    out: dict[tuple[str, int | None], str] = {}
    for kind, model in merging.KINDS.items():
        ids = {r.survivor_id for r in records if r.kind == kind}
        if ids:
            for i, name in shell.session().exec(select(model.id, model.name).where(col(model.id).in_(ids))):
                out[(kind, i)] = name
    return out


def _people(records: list[MergeRecord]) -> dict[int, str]:
    ids = {i for r in records for i in (r.merged_by, r.undone_by) if i is not None}
    if not ids:
        return {}
    rows = shell.session().exec(select(User.id, User.email).where(col(User.id).in_(ids))).all()
    return {int(i): email for i, email in rows if i is not None}


@bp.get("/merges")
@guard()
def merges() -> str:
    records = merging.visible_merges(shell.session(), shell.scope())
    return render_template(
        "admin/merges.html", records=records, names=_names(records), people=_people(records),
        confirm=ConfirmForm(),
    )  # fmt: skip


@bp.get("/merges/<int:merge_id>")
@guard()
def merge(merge_id: int) -> str:
    record = _merge_record(merge_id)
    moved = [
        (merging.moved_label(table), count)
        for table, count in merging.moved_counts(record.moved).items()
        if table != "slug_redirect"
    ]
    filled = [
        (field_label(record.kind, name), pair[0], pair[1]) for name, pair in record.filled.items()
        if name != "updated_at"
    ]  # fmt: skip
    return render_template(
        "admin/merge_record.html", record=record, names=_names([record]), people=_people([record]),
        moved=moved, filled=filled, confirm=ConfirmForm(),
    )  # fmt: skip


@bp.post("/merges/<int:merge_id>/undo")
@guard()
def undo(merge_id: int) -> Any:
    record = _merge_record(merge_id)
    if ConfirmForm().validate_on_submit():
        restored = shell.commit(
            lambda: unmerging.undo(shell.session(), actor=shell.me(), merge_record=record),
            lambda r: _("The merge is undone: “%(name)s” is back with the records that moved.", name=r.name),
        )
        if restored is not shell.FAILED:
            where: dict[str, Any] = {f"{record.kind}_id": pk(restored)}
            return redirect(url_for(f"records.{record.kind}", **where))
    return redirect(url_for("merges.merge", merge_id=merge_id))
