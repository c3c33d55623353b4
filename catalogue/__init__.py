"""catalogue — the public registry of Vietnam's outstanding rural industrial products."""

from __future__ import annotations

from typing import Any

from flask import Flask

from catalogue.config import PROJECT_ROOT, Settings


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then ``overrides`` (tests).

    Refuses to start, in one line (:class:`catalogue.config.StartupError`), on a
    bad setting, a missing or unmigrated database (except under the flask CLI,
    whose ``db upgrade`` creates it) or verification keys that do not read the
    stored certificates' codes.
    """
    from catalogue import startup

    settings = Settings.from_env()
    for key, value in (overrides or {}).items():
        setattr(settings, key, value)
    settings.validate()
    problem = startup.database_problem(settings)
    samples = startup.stored_key_samples(settings) if problem is None else {}
    settings.finalise(store_secrets=problem is None, codes_stored=bool(samples))
    if problem is None:
        startup.check_verify_keys(samples, settings)
    elif not startup.loaded_by_flask_cli():
        raise problem

    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings.as_flask_config())
    app.config["SETTINGS"] = settings
    from catalogue.web import RowId

    app.url_map.converters["int"] = RowId  # before any route: ids past a database integer are a 404
    startup.remember(app, problem)

    from catalogue import db, i18n
    from catalogue.extensions import babel, csrf, limiter, login_manager

    db.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.RATELIMIT_STORAGE_URI)
    limiter.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)

    from catalogue import errors, health, retention
    from catalogue.accounts import login
    from catalogue.accounts import views as accounts
    from catalogue.api import credential_views  # noqa: F401 - adds the signed answers to the API
    from catalogue.api import views as api
    from catalogue.audit import views as audit
    from catalogue.decisions import views as decisions
    from catalogue.fairs import pages as fair_pages
    from catalogue.fairs import views as fairs
    from catalogue.fairs import workspace as fairs_workspace
    from catalogue.gs1 import views as gs1
    from catalogue.imports import tasks as import_tasks  # noqa: F401 - registers its job handlers
    from catalogue.imports import views as imports
    from catalogue.jobs import queue as job_queue
    from catalogue.jobs import runner as job_runner
    from catalogue.jobs import views as job_views
    from catalogue.label_runs import tasks as label_tasks  # noqa: F401 - registers its job handlers
    from catalogue.label_runs import views as label_runs
    from catalogue.opendata import feed_views as opendata_feeds
    from catalogue.opendata import tasks as opendata_tasks
    from catalogue.opendata import views as opendata
    from catalogue.registry import merge_views, parts, validity_views
    from catalogue.registry import views as public
    from catalogue.registry import workspace as records
    from catalogue.search import tasks as search_tasks  # noqa: F401 - registers its job handler
    from catalogue.search import views as search
    from catalogue.statistics import views as statistics
    from catalogue.verification import labels, reports
    from catalogue.verification import views as verify
    from catalogue.workspace import shell
    from catalogue.workspace import views as workspace

    login.init_app(app)
    app.add_template_global(shell.round_label_global, "round_label")
    app.add_template_global(label_runs.may_issue_labels, "may_issue_labels")  # the certificate page's link
    # The public site, then the JSON API (every /api/v1 endpoint and the API page /api) …
    for blueprint in (public.bp, health.bp, fairs.bp, search.bp, statistics.bp, verify.bp, labels.bp, api.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(opendata.bp)  # /data/: the bulk downloads
    app.register_blueprint(opendata_feeds.bp)  # /feeds/*.atom: new certificates and revocations
    app.register_blueprint(gs1.bp)  # /01/<gtin>: GS1 Digital Link resolver, /.well-known/gs1resolver
    parts.install(app, [fair_pages.OnRegistryPages()])  # the fairs on the registry's pages
    # … then the officials' workspace under /admin, one blueprint per feature.
    for blueprint in (workspace.bp, accounts.bp, imports.bp, records.bp, merge_views.bp, validity_views.bp,
                      fairs_workspace.bp, reports.bp, audit.bp, job_views.bp, decisions.bp,
                      label_runs.bp):  # fmt: skip
        app.register_blueprint(blueprint)
    job_queue.init_app(app, run_job=job_runner.run_job_in_app(app), daily=retention.daily_in_app(app))
    opendata_tasks.init_app(app)  # rewrites the bulk downloads after changes, in the job consumer
    errors.init_app(app)
    public.init_app(app)  # the registry's template helpers, on every page

    from catalogue import seo
    from catalogue.opendata import dcat_views

    seo.init_app(app)  # /sitemap.xml, /robots.txt, preview cards and the pages' JSON-LD helpers
    app.register_blueprint(dcat_views.bp)  # /data/catalog.jsonld and /data.json for open-data portals

    from catalogue import cli, web
    from catalogue.search import sync

    sync.init_app(app)
    cli.init_app(app)
    web.init_app(app)
    if settings.TRUSTED_PROXIES:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app
