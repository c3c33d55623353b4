"""Flask extension objects, bound to the app in ``create_app``."""

from __future__ import annotations

import math
import time

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()


def client_address() -> str:
    """The client's address (behind ``TRUSTED_PROXIES`` proxies, ProxyFix has put the real one here)."""
    return get_remote_address() or request.remote_addr or "unknown"


#: Per-client limits; in each worker's memory by default, shared through Redis when
#: REDIS_URL is set. Sign-in is limited in the database instead (catalogue.accounts.throttle).
limiter = Limiter(key_func=client_address, default_limits=[])


def retry_after_seconds(exc: Exception) -> int:
    """Seconds a refused client should wait: the exception's own figure, else the end
    of the breached Flask-Limiter window, else a minute. Every 429 carries it."""
    given = getattr(exc, "retry_after", None)
    if isinstance(given, int) and given > 0:
        return given
    breached = limiter.current_limit if limiter.enabled else None
    if breached is not None:
        try:
            return max(1, math.ceil(breached.window[0] - time.time()))
        except Exception:  # noqa: BLE001 - storage trouble must not turn a 429 into a 500
            return 60
    return 60
