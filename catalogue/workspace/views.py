"""The workspace's home page: what an official can do, and the state of the search index.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

from flask import (
    render_template,
)

from catalogue.accounts import permissions
from catalogue.accounts.login import guard
from catalogue.imports import checking as importing
from catalogue.jobs import service as jobs
from catalogue.places.models import Province
from catalogue.workspace import shell

bp = shell.blueprint("workspace", __name__)


@bp.get("/")
@guard()
def index() -> str:
    me = shell.me()
    batches = importing.visible_batches(shell.session(), actor=me, limit=10)
    province = shell.session().get(Province, me.province_id) if me.province_id else None
    last_rebuild = jobs.latest_rebuild(shell.session()) if permissions.can(me, "rebuild_search") else None
    return render_template(
        "admin/index.html",
        batches=batches,
        province=province,
        levels=permissions.publishable_levels(me),
        can=permissions.can,
        me=me,
        rebuild=jobs.status(last_rebuild) if last_rebuild else None,
    )
