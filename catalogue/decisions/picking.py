"""Every certificate the records list's filter matches (its "all matching" choice), in the actor's scope.

The records list's filter (:mod:`catalogue.registry.finder`) decides what matches; this
module only asks it, so the decision sees exactly the rows the official saw.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from catalogue.accounts.permissions import Actor
from catalogue.registry import finder


def matching(session: Session, actor: Actor, args: Mapping[str, str]) -> list[int]:
    """The matching certificate ids, in the list's order."""
    return finder.matching_ids(session, actor, finder.parse_filter(args))
