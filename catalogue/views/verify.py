"""Blueprint "verify" (see DESIGN §3)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("verify", __name__)
