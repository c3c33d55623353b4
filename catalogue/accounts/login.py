"""Flask-Login wiring and the decorators every workspace view wears.

The session stores ``"<user id>:<session_version>:<session key>"``: bumping the
version (password change, reset, deactivation) ends every session at its next
request, and the key names the browser's row in ``user_session``
(:mod:`catalogue.accounts.sessions`), so one session can be ended alone. A cookie
of the older ``"<id>:<version>"`` form simply signs out. Decorators only ask
:mod:`catalogue.accounts.permissions`; they never decide.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user

from catalogue.accounts import permissions, sessions
from catalogue.accounts.models import User
from catalogue.db import get_session
from catalogue.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])


class Official(UserMixin):
    """Flask-Login's view of a :class:`User` row (the row stays a plain table model)."""

    def __init__(self, row: User, key: str) -> None:
        self.row = row
        #: This browser's session key (its hash names the ``user_session`` row).
        self.key = key

    def get_id(self) -> str:
        return f"{self.row.id}:{self.row.session_version}:{self.key}"

    @property
    def is_active(self) -> bool:
        return bool(self.row.is_active)

    @property
    def email(self) -> str:
        return self.row.email

    @property
    def role(self) -> str:
        return self.row.role

    @property
    def manages_accounts(self) -> bool:
        """Whether the navigation offers the accounts page (the ministry, a province's lead)."""
        return permissions.can(self.row, "manage_users")


def _load(token: str) -> Official | None:
    user_id, version, key = (token.split(":", 2) + ["", ""])[:3]
    if not user_id.isdigit() or not version.isdigit() or not key:
        return None
    db = get_session()
    row = db.get(User, int(user_id))
    if row is None or not row.is_active or row.session_version != int(version):
        return None
    open_session = sessions.find_open(db, int(user_id), key)
    if open_session is None:
        return None
    sessions.touch(open_session)
    return Official(row, key)


def current_key() -> str | None:
    """This browser's session key, or None when nobody is signed in."""
    return current_user.key if current_user.is_authenticated else None


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
