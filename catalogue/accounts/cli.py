"""``flask user create`` and ``flask user reset-link``: officials' accounts from the command line
(the first ministry account, and a way back in when the only ministry account is locked out)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from catalogue.accounts import resets
from catalogue.accounts import services as accounts
from catalogue.accounts.permissions import SYSTEM
from catalogue.db import session_scope
from catalogue.places.services import Provinces
from catalogue.startup import needs_database


@click.group("user", help="Officials' accounts.")
def user_group() -> None:
    pass


@user_group.command("create", help="Create an official's account.")
@click.option("--email", required=True)
@click.option(
    "--password", default=None, help="At least 10 characters (prompted for, hidden, when left out)."
)
@click.option("--role", type=click.Choice(["ministry", "province"]), required=True)
@click.option("--province", "province_name", help="Current province of a provincial official.")
@click.option("--name", default=None, help="Display name.")
@click.option(
    "--lead", is_flag=True, help="A provincial official who looks after the province's officials' accounts."
)
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@with_appcontext
@needs_database
def create(
    email: str,
    password: str | None,
    role: str,
    province_name: str | None,
    name: str | None,
    lead: bool,
    lang: str,
) -> None:
    if password is None:  # asked here, after the database check, not by the option
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with force_locale(lang):
        _create(email, password, role, province_name, name, lead)


def _create(
    email: str, password: str, role: str, province_name: str | None, name: str | None, lead: bool
) -> None:
    with session_scope() as session:
        province = None
        if province_name:
            provinces = Provinces.load(session)
            province = provinces.match_current(province_name)
            if province is None:
                hints = ", ".join(provinces.suggest(province_name))
                raise click.ClickException(
                    f"Unknown province {province_name!r}." + (f" Did you mean: {hints}?" if hints else "")
                )
        try:
            user = accounts.create_user(
                session,
                actor=SYSTEM,
                email=email,
                password=password,
                role=role,
                province=province,
                name=name,
                lead=lead,
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        where = f" for {province.name}" if province else ""
        kind = "lead provincial" if user.is_lead else user.role
        click.echo(f"Created {kind} account {user.email}{where}.")


@user_group.command("reset-link", help="Print a one-time link to set a new password for an account.")
@click.option("--email", required=True)
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@with_appcontext
@needs_database
def reset_link(email: str, lang: str) -> None:
    """For the operator when no ministry official can sign in to issue one (audited as the CLI)."""
    with force_locale(lang), session_scope() as session:
        user = accounts.find_user(session, email)
        if user is None:
            raise click.ClickException(f"No account with the e-mail {accounts.normalise_email(email)}.")
        hours = int(current_app.config["RESET_LINK_HOURS"])
        try:
            issued = resets.issue(session, actor=SYSTEM, user=user, hours=hours)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        with current_app.test_request_context():
            link = resets.reset_url(issued.token)
    click.echo(f"One-time link for {user.email}, valid for {hours} hours (earlier links no longer work):")
    click.echo(link)
