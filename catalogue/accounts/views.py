"""Officials' accounts: signing in and out, passwords, reset links, one's own sessions, and the
list of accounts (every account for the ministry, their own province's for a lead official).

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from typing import Any

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from catalogue.accounts import login as auth
from catalogue.accounts import mail, resets, sessions
from catalogue.accounts import services as accounts
from catalogue.accounts import throttle as sign_in_throttle
from catalogue.accounts.forms import LoginForm, PasswordForm, ResetLinkForm, ResetPasswordForm, UserForm
from catalogue.accounts.login import actor, current_key, guard
from catalogue.accounts.models import User
from catalogue.accounts.permissions import can, may_manage, require_manage
from catalogue.db import pk
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
            key = sessions.start(shell.session(), user, request.user_agent.string)
            shell.session().commit()
            if current_app.config["RATELIMIT_ENABLED"]:
                sign_in_throttle.succeeded(form.email.data or "", client_address())
            login_user(auth.Official(user, key))
            return redirect(target)
        flash(_("Wrong e-mail or password, or the account is deactivated."), "error")
    return render_template("admin/login.html", form=form, next=target)


@bp.post("/logout")
@guard()
def logout() -> Any:
    key = current_key()
    if key is not None:
        sessions.end_current(shell.session(), pk(shell.me()), key)
        shell.session().commit()
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
            key = sessions.start(shell.session(), user, request.user_agent.string)
            shell.session().commit()
            login_user(auth.Official(user, key))  # a new session, carrying the new version
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
    me, scope = shell.me(), shell.scope()
    form = UserForm()
    if scope is None:
        form.province_id.choices = shell.province_choices(blank="—")
    else:  # a lead official: plain officials of their own province (the service refuses the rest)
        form.limit_to_province(shell.province_choices(scope=scope))
    if form.validate_on_submit():
        province = shell.session().get(Province, form.province_id.data) if form.province_id.data else None
        try:
            user = accounts.create_user(
                shell.session(),
                actor=me,
                email=form.email.data or "",
                password=form.password.data or "",
                role=form.role.data or "",
                province=province,
                name=form.name.data,
                lead=bool(form.lead.data),
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            shell.session().commit()
            flash(_("Account %(email)s created.", email=user.email), "info")
            return redirect(url_for("accounts.users"))
    shell.form_errors(form)
    rows = accounts.list_users(shell.session(), actor=me)
    provinces = shell.provinces()
    return render_template(
        "admin/users.html",
        form=form,
        users=rows,
        provinces=provinces,
        confirm=ConfirmForm(),
        manageable={u.id for u in rows if may_manage(me, u)},
        can_appoint=can(me, "appoint_lead"),
        scope=provinces.get(scope) if scope is not None else None,
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


@bp.post("/users/<int:user_id>/lead")
@guard("appoint_lead")
def user_lead(user_id: int) -> Any:
    """The ministry makes a provincial official their province's lead official, or ends that."""
    if ConfirmForm().validate_on_submit():
        user = shell.get_or_404(User, user_id)
        lead = request.form.get("lead") == "1"
        shell.commit(
            lambda: accounts.set_lead(shell.session(), actor=shell.me(), user=user, lead=lead),
            _("%(email)s is now a lead official of the province.", email=user.email)
            if lead
            else _("%(email)s is no longer a lead official.", email=user.email),
        )
    return redirect(url_for("accounts.users"))


# ----------------------------------------------------------------------------- reset links


@bp.route("/users/<int:user_id>/reset-link", methods=["GET", "POST"])
@guard("issue_reset_link")
def reset_link(user_id: int) -> Any:
    """Issue a one-time link for another official; the link is on this response only."""
    user = shell.get_or_404(User, user_id)
    require_manage(shell.me(), user)  # a lead: only their own province's officials
    form = ResetLinkForm()
    config = current_app.config
    can_mail = mail.configured(config)
    if form.validate_on_submit():
        try:
            issued = resets.issue(
                shell.session(), actor=shell.me(), user=user, hours=int(config["RESET_LINK_HOURS"])
            )
        except accounts.AccountError as exc:
            shell.session().rollback()
            flash(str(exc), "error")
            return redirect(url_for("accounts.users"))
        shell.session().commit()
        link = resets.reset_url(issued.token)
        if can_mail and form.send_email.data:
            _mail_link(user.email, link, issued.reset.expires_at)
        return render_template(
            "admin/reset_link.html", user=user, link=link, expires_at=issued.reset.expires_at, form=None
        )
    if not user.is_active:
        flash(_("The account %(email)s is deactivated: reactivate it before issuing a reset link.",
                email=user.email), "error")  # fmt: skip
        return redirect(url_for("accounts.users"))
    shell.form_errors(form)
    return render_template(
        "admin/reset_link.html",
        user=user,
        form=form,
        can_mail=can_mail,
        hours=config["RESET_LINK_HOURS"],
        link=None,
    )


def _mail_link(to: str, link: str, expires_at: Any) -> None:
    try:
        mail.send(current_app.config, mail.reset_message(current_app.config, to=to, link=link,
                                                          expires_at=expires_at))  # fmt: skip
    except mail.MailError as exc:  # the detail is for the operator's log, not the official's page
        current_app.logger.warning("reset link e-mail to %s failed: %s", to, exc)
        flash(_("The e-mail could not be sent. Pass the link below on another way."), "error")
    else:
        flash(_("The link was also sent by e-mail to %(email)s.", email=to), "info")


#: Where the opened link's token waits (the signed session cookie) while its form is filled in.
_RESET_TOKEN = "reset_token"


@bp.get("/reset/<token>")
def open_reset_link(token: str) -> Any:
    """Open to anyone holding the link (the link is the credential): keep the token, drop it from the URL.

    The token goes into the signed session and the browser moves on to the token-free
    :func:`reset_password` page, so the address that access logs, error logs and the
    browser's history keep carries no usable link.
    """
    if resets.find_usable(shell.session(), token) is None:
        session.pop(_RESET_TOKEN, None)
        return _invalid_link()
    session[_RESET_TOKEN] = token
    return _no_referrer(redirect(url_for("accounts.reset_password"), 303))


@bp.route("/reset", methods=["GET", "POST"])
def reset_password() -> Any:
    """Set a new password, once, through the link opened in this browser."""
    db = shell.session()
    token = str(session.get(_RESET_TOKEN) or "")
    reset = resets.find_usable(db, token)
    if reset is None:
        session.pop(_RESET_TOKEN, None)
        return _invalid_link()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            resets.use(db, token=token, new_password=form.new.data or "")
        except accounts.AccountError as exc:
            db.rollback()
            flash(str(exc), "error")
        else:
            db.commit()
            session.pop(_RESET_TOKEN, None)
            flash(
                _("Your new password is set, and every earlier session has ended. Sign in with it."), "info"
            )
            return redirect(url_for("accounts.login"))
    shell.form_errors(form)
    user = db.get(User, reset.user_id)
    page = render_template(
        "admin/reset.html", form=form, user=user, message=None, min_password=accounts.MIN_PASSWORD
    )
    return _no_referrer(make_response(page, 200))


def _invalid_link() -> Any:
    page = render_template("admin/reset.html", form=None, message=resets.invalid_link())
    return _no_referrer(make_response(page, 404))


def _no_referrer(response: Response) -> Response:
    """Pages reached through a link: never send an address on as a Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ----------------------------------------------------------------------------- own sessions


@bp.get("/sessions")
@guard("manage_own_sessions")
def sessions_page() -> Any:
    rows = sessions.list_own(shell.session(), actor=shell.me(), current_key=current_key())
    return render_template("admin/sessions.html", sessions=rows, confirm=ConfirmForm())


@bp.post("/sessions/end")
@guard("manage_own_sessions")
def end_session() -> Any:
    if ConfirmForm().validate_on_submit():
        session_id = request.form.get("session", type=int)
        if session_id is None:
            flash(_("That session has already ended."), "error")
        else:
            shell.commit(
                lambda: sessions.end_own(
                    shell.session(), actor=shell.me(), session_id=session_id, current_key=current_key()
                ),
                _("The session has ended: that browser is signed out."),
            )
    return redirect(url_for("accounts.sessions_page"))


@bp.post("/sessions/end-others")
@guard("manage_own_sessions")
def end_other_sessions() -> Any:
    if ConfirmForm().validate_on_submit():
        shell.commit(
            lambda: sessions.end_others(shell.session(), actor=shell.me(), current_key=current_key()),
            lambda n: _("Other sessions ended: %(n)d. Only this one is still signed in.", n=n),
        )
    return redirect(url_for("accounts.sessions_page"))
