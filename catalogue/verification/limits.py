"""Who a verification limit counts: fair to a crowd behind one address, strict on walkers.

At a trade fair hundreds of visitors share one Wi-Fi address and each scans a
different product. One budget per address refused most of them, so the
budgets are split (figures in ``config.py``, shared by page, API and look-up):

* per (address, code): ``VERIFY_RATE_LIMIT`` — one client re-checking one code
  (inflating its check count) is slowed, a crowd scanning many codes is not;
* per address, every code: ``VERIFY_CLIENT_RATE_LIMIT`` — a ceiling high enough
  for a fair's crowd;
* per address, look-ups that found nothing: ``VERIFY_FAILED_RATE_LIMIT`` —
  walking through codes or certificate numbers. Only misses are deducted
  (forged codes fail the keyed check before any database work), and once the
  budget is spent the address waits, whatever it asks next.

:data:`verify_limit` applies the three budgets as one decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, current_app, request

from catalogue.extensions import client_address, limiter


def per_code_limit() -> str:
    return str(current_app.config["VERIFY_RATE_LIMIT"])


def per_client_limit() -> str:
    return str(current_app.config["VERIFY_CLIENT_RATE_LIMIT"])


def failed_limit() -> str:
    return str(current_app.config["VERIFY_FAILED_RATE_LIMIT"])


def client_and_item() -> str:
    """``address|CODE``: the code (or the typed certificate number) this request asks about.

    Spaces and case are folded so a code typed twice differently is one item.
    """
    view_args = request.view_args or {}
    item = view_args.get("code") or request.args.get("code") or request.args.get("number") or ""
    return f"{client_address()}|{''.join(str(item).split()).upper()[:64]}"


def found_nothing(response: Response) -> bool:
    """Deduct from the failed-look-up budget only when the look-up found nothing."""
    return response.status_code == 404


# ----------------------------------------------------------------------------- decorators

F = TypeVar("F", bound=Callable[..., Any])


def report_limit() -> str:
    """Budget for posting fake reports (``VERIFY_REPORT_RATE_LIMIT``)."""
    return str(current_app.config["VERIFY_REPORT_RATE_LIMIT"])


def _when_enabled(decorator: Callable[[F], F]) -> Callable[[F], F]:
    """Apply a Flask-Limiter decorator, skipping its bookkeeping while limiting is
    switched off (``RATELIMIT_ENABLED=false``), so a benchmark measures the page."""

    def wrap(view: F) -> F:
        limited = decorator(view)

        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            return (limited if limiter.enabled else view)(*args, **kwargs)

        return cast(F, inner)

    return wrap


def _verify_limits(view: F) -> F:
    """Budgets shared by every look-up (page, API, lookup form), so spreading requests
    over endpoints does not multiply them; who each counts: the functions above."""
    limited: Callable[..., Any] = view
    for decorate in (
        limiter.shared_limit(per_code_limit, scope="verify", key_func=client_and_item),
        limiter.shared_limit(per_client_limit, scope="verify-client"),
        limiter.shared_limit(failed_limit, scope="verify-misses", deduct_when=found_nothing),
    ):
        limited = decorate(limited)
    return cast(F, limited)


#: The look-up budgets as one decorator (the verify page, the lookup form, the API's verify endpoints).
verify_limit = _when_enabled(_verify_limits)
