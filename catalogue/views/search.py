"""Blueprint "search": the search page and the product API (one search function)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("search", __name__)
