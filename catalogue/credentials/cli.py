"""``flask --app catalogue credential``: check a saved credential offline; list and rotate the keys."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from joserfc.jwk import KeySet

from catalogue import startup
from catalogue.clock import utcnow
from catalogue.credentials import checking, issuing, keys
from catalogue.credentials.status_list import list_count
from catalogue.db import get_engine


@click.group("credential", help="Signed certificate credentials (W3C VC 2.0) and their keys.")
def credential_group() -> None:
    pass


@credential_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--jwks",
    "jwks_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The issuer's public keys (a saved /.well-known/jwks.json). Without it: this "
    "installation's own keys and lists, read from its database (on the registry's server).",
)
@click.option(
    "--status-list",
    "list_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The saved revocation list the credential names (its statusListCredential).",
)
@click.option("--no-revocation-check", is_flag=True,
              help="Accept the credential without a revocation list (exit 0 instead of 2).")  # fmt: skip
@with_appcontext
def verify_command(
    file: Path, jwks_file: Path | None, list_file: Path | None, no_revocation_check: bool
) -> None:
    """Verify a saved credential (vc+jwt) without the network.

    Exit status: 0 valid, 2 valid but its revocation list was not checked, 1 anything else.
    """
    token = _read(file)
    if jwks_file is not None:
        try:
            key_set = keys.public_key_set_of(_read(jwks_file), str(jwks_file))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        status_list = _read(list_file) if list_file else None
    else:
        key_set, local = _local(token)
        status_list = _read(list_file) if list_file else local
    report = checking.check(
        token, key_set, status_list, utcnow(), revocation_required=not no_revocation_check
    )
    _print(report)
    if report.verdict == checking.UNCHECKED:
        click.echo("  give --status-list FILE (the list the credential names), or --no-revocation-check")
        raise SystemExit(2)
    if not report.ok:
        raise SystemExit(1)


def _print(report: checking.Report) -> None:
    subject = checking.obj((report.credential or {}).get("credentialSubject"))
    click.echo(f"credential: {report.verdict}")
    if report.credential:
        click.echo(f"  signed by key {report.kid} of {checking.issuer_of(report.credential)}")
        if subject.get("name"):
            click.echo(f"  product: {subject.get('name')} ({subject.get('id')})")
        number = checking.obj(subject.get("certification")).get("certificateNumber")
        click.echo(f"  certificate: {number or '(number not known)'}")
    for problem in report.problems:
        click.echo(f"  problem: {problem}")
    for note in report.notes:
        click.echo(f"  note: {note}")


def _read(path: Path) -> str:
    data = path.read_bytes()[: 1024 * 1024 + 1]
    if len(data) > 1024 * 1024:
        raise click.ClickException(f"{path} is larger than any credential (1 MB).")
    try:
        return data.decode().strip()
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not a text file holding a credential.") from None


def _local(token: str) -> tuple[KeySet, str | None]:
    """This installation's keys, and its list for the credential when the credential is one of ours."""
    if startup.problem_of(current_app) is not None:
        raise click.ClickException("no registry database here: give --jwks FILE and --status-list FILE.")
    try:
        key_set = keys.load(current_app.config).key_set()
    except keys.KeysMissing:
        raise click.ClickException("this installation has no signing keys: give --jwks FILE.") from None
    try:
        _header, credential = checking.read(token, key_set)
    except checking.Unreadable:
        return key_set, None
    entry = credential.get("credentialStatus") or {}
    url = str(entry.get("statusListCredential") or "") if isinstance(entry, dict) else ""
    with current_app.test_request_context("/"), get_engine().connect() as conn:
        # By path: this shell's PUBLIC_BASE_URL may not be the address the server signs with,
        # so the list is signed as the credential names it (its base, then this registry's path).
        path = urlsplit(issuing.status_list_url(0)).path[:-1]
        at = url.find(path)
        number = url[at + len(path) :] if at > 0 else ""
        if not (number.isascii() and number.isdigit()) or int(number) >= list_count(conn):
            return key_set, None
        ttl = int(current_app.config["STATUS_LIST_TTL_SECONDS"])
        here = current_app.config["PUBLIC_BASE_URL"]
        current_app.config["PUBLIC_BASE_URL"] = url[:at]
        try:
            return key_set, issuing.status_list_credential(conn, int(number), ttl)
        finally:
            current_app.config["PUBLIC_BASE_URL"] = here


@credential_group.group("keys", help="The Ed25519 keys that sign credentials.")
def keys_group() -> None:
    pass


@keys_group.command("list")
@with_appcontext
def list_command() -> None:
    """Print the current key and the retired ones (all published at /.well-known/jwks.json)."""
    try:
        ring = keys.load(current_app.config)
    except keys.KeysMissing as exc:
        raise click.ClickException(f"no signing key at {exc}.") from None
    for jwk in ring.public:
        click.echo(f"{jwk['kid']}  {'current' if jwk['kid'] == ring.kid else 'retired'}")


@keys_group.command("rotate")
@with_appcontext
def rotate_command() -> None:
    """Sign with a new key from now on; the old one stays published so its credentials keep verifying."""
    try:
        new, old = keys.rotate(current_app.config)
    except keys.KeysMissing as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"credential keys: {new} is current" + (f"; {old} retired (still published)" if old else ""))
    click.echo(f"  file: {keys.keys_path(current_app.config)} (copy it to every node)")
