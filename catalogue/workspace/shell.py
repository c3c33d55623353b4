"""What every workspace blueprint shares: its URL prefix and headers, its error pages, and small helpers.

Each feature keeps its workspace pages in its own blueprint, made by
:func:`blueprint` (under ``/admin``, never cached, CSRF and 403 answered as
pages); views use :func:`commit` to run one service call and say what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, current_app, flash, g, render_template, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlmodel import Session, col, or_, select

from catalogue.accounts import permissions
from catalogue.accounts.login import actor
from catalogue.accounts.models import User
from catalogue.db import get_session
from catalogue.places.services import Provinces
from catalogue.refused import Refused
from catalogue.registry import photos
from catalogue.registry.models import Producer, SelectionRound
from catalogue.registry.round_names import round_label
from catalogue.workspace.forms import (
    ConfirmForm,
    choices,
)


def blueprint(name: str, import_name: str, url_prefix: str = "/admin") -> Blueprint:
    """A feature's workspace blueprint: under ``/admin``, never cached, with the workspace's error pages."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    bp.context_processor(_workspace_helpers)
    bp.after_request(_private)
    bp.register_error_handler(CSRFError, _csrf_error)
    bp.register_error_handler(403, _forbidden)
    return bp


def round_label_global(round_: SelectionRound) -> str:
    """A round as people say it (:func:`catalogue.registry.round_names.round_label`); a template global."""
    if "round_provinces" not in g:
        g.round_provinces = Provinces.load(get_session())
    return round_label(round_, g.round_provinces)


def session() -> Session:
    return get_session()


T = TypeVar("T")

#: What :func:`commit` returns when the service refused the change.
FAILED: Any = object()


def commit(action: Callable[[], T], success: str | Callable[[T], str]) -> T:
    """Run one mutating service call and commit; a refused change rolls back and says why.

    Returns the service's result, or :data:`FAILED` (the form is shown again with the message).
    """
    db = session()
    try:
        result = action()
        db.commit()
    except Refused as exc:
        db.rollback()
        flash(str(exc), "error")
        return FAILED
    flash(success(result) if callable(success) else success, "info")
    return result


def me() -> User:
    user = actor()
    assert user is not None  # guard() ran first
    return user


def scope() -> int | None:
    """The province the signed-in official works for; None for the ministry."""
    return permissions.province_scope(me())


def get_or_404(model: type, obj_id: int) -> Any:
    obj = session().get(model, obj_id)
    if obj is None:
        abort(404)
    return obj


def provinces() -> Provinces:
    return Provinces.load(session())


def province_choices(blank: str | None = None, scope: int | None = None, printed: bool = False) -> list[Any]:
    """Current provinces in scope; with ``printed``, each followed by its pre-2025 units.

    Records keep the province as printed on their certificate: a form that offered
    only current units would move a record printed under Quảng Nam to Đà Nẵng the
    moment an official saved it untouched.
    """
    known = provinces()
    rows: list[tuple[int | None, str]] = []
    for unit in known.current():
        if scope is not None and unit.id != scope:
            continue
        rows.append((unit.id, unit.short_name))
        if printed:
            for old in sorted(known.predecessors(unit), key=lambda p: p.short_name):
                if old.id != unit.id:
                    rows.append((old.id, _("%(name)s (before 1/7/2025)", name=old.short_name)))
    return choices(([(0, blank)] if blank is not None else []) + rows)


def producer_choices(current: int | None) -> list[Any]:
    """Producers an official may attach: their province's (every one for the ministry)."""
    query = select(Producer.id, Producer.name).order_by(Producer.name)
    home_id = scope()
    if home_id is not None:
        known = provinces()
        home = known.get(home_id)
        ids = known.member_ids(home) if home is not None else set()
        query = query.where(or_(col(Producer.province_id).in_(ids), Producer.id == current))
    return choices([("", "—")] + list(session().exec(query).all()))


def blank_to_none(data: dict[str, Any]) -> dict[str, Any]:
    """A form's empty choices as None (no province, kind, group or region chosen)."""
    return {
        k: (None if v in ("", 0) and k.endswith(("_id", "kind", "group", "region")) else v)
        for k, v in data.items()
    }


def form_values(form: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return blank_to_none({n: getattr(form, n).data for n in names if hasattr(form, n)})


def label_url(endpoint: str, **values: Any) -> str | None:
    """A link into the verification pages (QR labels) when that blueprint offers it."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def form_errors(form: Any) -> None:
    for field_errors in form.errors.values():
        for message in field_errors:
            flash(str(message), "error")


def _workspace_helpers() -> dict[str, Any]:
    return {"confirm_form": ConfirmForm, "thumb_key": lambda key: photos.variant_key(key, "sm")}


def _private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


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


def _forbidden(exc: Any) -> tuple[str, int]:
    return render_template(
        "admin/message.html", title=_("Not allowed"), message=getattr(exc, "description", None), status=403
    ), 403
