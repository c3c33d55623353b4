"""Flask extension objects, bound to the app in ``create_app``."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()


def _client_key() -> str:
    # Behind a trusted proxy the app is wrapped with ProxyFix, so remote_addr is the client.
    return get_remote_address() or request.remote_addr or "unknown"


#: Per-client limits; in-memory by default, Redis when REDIS_URL is set.
limiter = Limiter(key_func=_client_key, default_limits=[])
