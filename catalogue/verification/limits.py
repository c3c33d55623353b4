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
"""

from __future__ import annotations

from flask import Response, current_app, request

from catalogue.extensions import client_address


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
