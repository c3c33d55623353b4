"""``flask user create`` (filled in by the officials' workspace)."""

from __future__ import annotations

import click


@click.group("user", help="Officials' accounts.")
def user_group() -> None:
    pass
