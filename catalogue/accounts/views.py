"""Officials' accounts: signing in and out, passwords, and the ministry's list of accounts.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from typing import Any

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from catalogue.accounts import login as auth
from catalogue.accounts import services as accounts
from catalogue.accounts import throttle as sign_in_throttle
from catalogue.accounts.forms import LoginForm, PasswordForm, UserForm
from catalogue.accounts.login import actor, guard
from catalogue.accounts.models import User
from catalogue.extensions import client_address
from catalogue.i18n import safe_next
from catalogue.places.models import Province
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm

bp = shell.blueprint("accounts", __name__)


# ----------------------------------------------------------------------------- signing in


def _too_many() -> str:
    return _("Too many sign-in attempts. Wait a few minutes and try again.")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    target = safe_next(request.values.get("next"), url_for("workspace.index"))
    if request.method == "GET" and actor() is not None:
        return redirect(target)
    if request.method == "POST" and current_app.config["RATELIMIT_ENABLED"]:
        # Per e-mail and per address, counted in the database: shared by every worker.
        wait = sign_in_throttle.attempt(request.form.get("email", ""), client_address())
        if wait is not None:
            raise TooManyRequests(description=_too_many(), retry_after=wait)
    if form.validate_on_submit():
        user = accounts.authenticate(shell.session(), form.email.data or "", form.password.data or "")
        if user is not None:
            shell.session().commit()
            login_user(auth.Official(user))
            return redirect(target)
        flash(_("Wrong e-mail or password, or the account is deactivated."), "error")
    return render_template("admin/login.html", form=form, next=target)


@bp.post("/logout")
@guard()
def logout() -> Any:
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@guard("change_password")
def password() -> Any:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.change_password(
                shell.session(), actor=shell.me(), current=form.current.data or "", new=form.new.data or ""
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            shell.session().commit()
            login_user(auth.Official(user))  # this session carries the new version
            flash(_("Password changed. Your other sessions have been signed out."), "info")
            return redirect(url_for("workspace.index"))
    shell.form_errors(form)
    return render_template(
        "admin/form.html", form=form, title=_("Change password"), submit=_("Change password")
    )


# ----------------------------------------------------------------------------- accounts


@bp.route("/users", methods=["GET", "POST"])
@guard("manage_users")
def users() -> Any:
    form = UserForm()
    form.province_id.choices = shell.province_choices(blank="—")
    if form.validate_on_submit():
        province = shell.session().get(Province, form.province_id.data) if form.province_id.data else None
        try:
            user = accounts.create_user(
                shell.session(),
                actor=shell.me(),
                email=form.email.data or "",
                password=form.password.data or "",
                role=form.role.data or "",
                province=province,
                name=form.name.data,
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            shell.session().commit()
            flash(_("Account %(email)s created.", email=user.email), "info")
            return redirect(url_for("accounts.users"))
    shell.form_errors(form)
    rows = accounts.list_users(shell.session(), actor=shell.me())
    provinces = shell.provinces()
    return render_template(
        "admin/users.html", form=form, users=rows, provinces=provinces, confirm=ConfirmForm()
    )


@bp.post("/users/<int:user_id>/active")
@guard("manage_users")
def user_active(user_id: int) -> Any:
    if ConfirmForm().validate_on_submit():
        user = shell.get_or_404(User, user_id)
        try:
            accounts.set_active(
                shell.session(), actor=shell.me(), user=user, active=request.form.get("active") == "1"
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            shell.session().commit()
            flash(_("Account %(email)s updated.", email=user.email), "info")
    return redirect(url_for("accounts.users"))
