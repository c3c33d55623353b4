"""Every certificate the records list's filter matches (its "all matching" choice), in the actor's scope.

The records list's filter (:mod:`catalogue.registry.finder`) decides what matches; this
module only asks it, so the decision sees exactly the rows the official saw.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from sqlmodel import Session

from catalogue.accounts.permissions import Actor


def matching(session: Session, actor: Actor, args: Mapping[str, str]) -> list[int] | None:
    """The matching certificate ids, or None when the records list offers no filter."""
    try:
        finder = importlib.import_module("catalogue.registry.finder")
    except ImportError:
        return None
    return [int(i) for i in finder.matching_ids(session, actor, finder.parse_filter(args))]
