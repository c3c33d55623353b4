"""``flask user create``: officials' accounts from the command line (the first ministry account)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

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
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@with_appcontext
@needs_database
def create(
    email: str, password: str | None, role: str, province_name: str | None, name: str | None, lang: str
) -> None:
    if password is None:  # asked here, after the database check, not by the option
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with force_locale(lang):
        _create(email, password, role, province_name, name)


def _create(email: str, password: str, role: str, province_name: str | None, name: str | None) -> None:
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
                session, actor=SYSTEM, email=email, password=password, role=role, province=province, name=name
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        where = f" for {province.name}" if province else ""
        click.echo(f"Created {user.role} account {user.email}{where}.")
