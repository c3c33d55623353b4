"""The registry's assumed validity: the ministry's setting form and the public page.

- ``admin.validity``        ``GET|POST /admin/validity`` — ministry officials set a level's
  assumed validity from a day on (audited; history kept);
- ``public.status_rules``   ``GET /status`` — how status is decided: decision vs the
  registry's assumption, each level's setting and its history.

Routes join the ``admin`` and ``public`` blueprints (imported by :mod:`catalogue.workspace.views`);
the rules live in :mod:`catalogue.registry.validity` and :mod:`catalogue.registry.status`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from catalogue.accounts.login import actor, guard
from catalogue.clock import today
from catalogue.db import get_session
from catalogue.registry import validity
from catalogue.registry.forms import PolicyForm
from catalogue.registry.status import current_policy, forget_policy
from catalogue.vocab import Level
from catalogue.workspace import shell
from catalogue.workspace.forms import choices


def _levels() -> list[Level]:
    return Level.by_rank()


def _default_years() -> int:
    return int(current_app.config["CERTIFICATE_VALIDITY_YEARS"])


bp = shell.blueprint("validity", __name__)


@bp.route("/validity", methods=["GET", "POST"])
@guard("manage_policy")
def validity_settings() -> Any:
    session = get_session()
    form = PolicyForm()
    form.level.choices = choices([(lv.value, lv.label) for lv in _levels()])
    if request.method == "GET":
        form.effective_from.data = today()
    if form.validate_on_submit():
        try:
            validity.set_policy(
                session, actor=actor(), level=form.level.data or "", years=int(form.years.data or 0),
                effective_from=form.effective_from.data, default_years=_default_years(),
                note=form.note.data,
            )  # fmt: skip
        except validity.PolicyError as exc:
            session.rollback()
            flash(str(exc), "error")
        else:
            session.commit()
            forget_policy()  # this process shows the new status at once; others within POLICY_TTL
            flash(_("Saved. Statuses follow the new setting from the day it takes effect."), "info")
            return redirect(url_for("validity.validity_settings"))
    for errors in form.errors.values():
        for message in errors:
            flash(str(message), "error")
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/validity.html", form=form, history=validity.history(session, _default_years()),
        policy=current_policy(session), today=today(),
    ), status  # fmt: skip
