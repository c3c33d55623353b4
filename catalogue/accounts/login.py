"""Flask-Login wiring and the decorators every workspace view wears.

The session stores ``"<user id>:<session_version>"``: bumping the version
(password change, deactivation) ends every other session at its next request.
Decorators only ask :mod:`catalogue.accounts.permissions`; they never decide.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.db import get_session
from catalogue.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])


class Official(UserMixin):
    """Flask-Login's view of a :class:`User` row (the row stays a plain table model)."""

    def __init__(self, row: User) -> None:
        self.row = row

    def get_id(self) -> str:
        return f"{self.row.id}:{self.row.session_version}"

    @property
    def is_active(self) -> bool:
        return bool(self.row.is_active)

    @property
    def email(self) -> str:
        return self.row.email

    @property
    def role(self) -> str:
        return self.row.role


def _load(token: str) -> Official | None:
    user_id, _, version = token.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    row = get_session().get(User, int(user_id))
    if row is None or not row.is_active or row.session_version != int(version):
        return None
    return Official(row)


def actor() -> User | None:
    """The signed-in official's row, or None."""
    return current_user.row if current_user.is_authenticated else None


def _to_login() -> Any:
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def guard(action: str = "use_workspace") -> Callable[[F], F]:
    """Require a signed-in official allowed to do ``action`` (object checks come later)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = actor()
            if user is None:
                return _to_login()
            permissions.require(user, action)
            return view(*args, **kwargs)

        wrapped.guarded_by = action  # type: ignore[attr-defined]  # read by the route audit test
        return cast(F, wrapped)

    return decorator


login_required = guard("use_workspace")


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.session_protection = "basic"
