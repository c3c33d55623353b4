"""The OpenAPI 3.1 document of the public API, generated; served at ``/api/v1/openapi.json``.

It used to be a hand-kept dict, and it drifted from the code (a required field the
answers lacked, the CSV's rows, undocumented parameters). Now each endpoint declares
its :class:`Operation` where it is routed (:mod:`catalogue.api.views`), and
:func:`document` walks the app's URL map: paths and methods come from the routes,
parameters from the query models, bodies from the answer models' JSON Schemas
(pydantic), so the document describes what the code does. An ``/api/v1`` route
without an operation is an error, not an undocumented endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from markupsafe import Markup
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from catalogue.api.errors import Error
from catalogue.api.queries import Query
from catalogue.db import get_session
from catalogue.places.services import Provinces

F = TypeVar("F", bound=Callable[..., Any])

JSON = "application/json"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Reply:
    """One documented answer of an operation."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_type: str = JSON
    #: For a body that is not JSON (CSV, plain text): its schema.
    schema: dict[str, Any] | None = None
    #: ``Retry-After`` on 429 and 503.
    retry_after: bool = False


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    query: type[Query] | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    replies: tuple[Reply, ...] = ()


#: Endpoint name → its operation; filled where the endpoints are routed.
OPERATIONS: dict[str, Operation] = {}


def documented(endpoint: str, operation: Operation) -> None:
    """Declare ``endpoint``'s operation (the API blueprint's, or another's such as ``/healthz``)."""
    OPERATIONS[endpoint] = operation


# The errors every JSON operation can answer.
BAD_REQUEST = Reply(400, "A parameter's value is not accepted; the message says which and why.", Error)
TOO_MANY = Reply(429, "Too many look-ups from this client; try again after `Retry-After` seconds.", Error,
                 retry_after=True)  # fmt: skip
BUSY = Reply(503, "The registry is busy for a moment; try again after `Retry-After` seconds.", Error,
             retry_after=True)  # fmt: skip

INFO = {
    "title": "Registry of outstanding rural industrial products — public API",
    "version": "1",
    "description": (
        "Open data on Vietnam's certified outstanding rural industrial products (sản phẩm công nghiệp "
        "nông thôn tiêu biểu): products, certificates, verification codes and the fairs and showrooms "
        "where products are shown. Read-only, no key needed; answers carry `Access-Control-Allow-Origin: "
        "*` where they are public. Unknown facts (a date, a certificate number, a producer) are `null`, "
        "never guessed. Certificate status is derived on each request from the dates.\n\n"
        "Labels and messages are in Vietnamese by default, in English with `?lang=en` or "
        '`Accept-Language: en`. Every error is `{"error": {"code", "message"}}` with the message in '
        'that language; the one exception is the verify endpoints\' `{"status": "unknown"}` (404) '
        "for a code or number that the registry does not know. Methods other than GET (and HEAD) "
        "answer 405 in that shape, with `Allow`."
    ),
    "license": {"name": "Public data"},
}


def _path(rule: str) -> str:
    """``/api/v1/verify/<code>`` → ``/api/v1/verify/{code}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


#: Schema names kept from the first, hand-written document (clients generate code from them).
RENAMED = {"CertificateStatus": "Status"}


def _renamed(node: Any, properties: bool = False) -> Any:
    """Pydantic's schema made for readers: kept names, no generated titles, docstrings' RST
    ````code```` as Markdown `code`."""
    if isinstance(node, list):
        return [_renamed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if properties:  # keys are field names here
            out[key] = _renamed(value)
        elif key == "$ref":
            name = value.rsplit("/", 1)[-1]
            out[key] = REF.format(model=RENAMED.get(name, name))
        elif key == "title" and isinstance(value, str):
            continue
        elif key == "description" and isinstance(value, str):
            out[key] = value.replace("``", "`")
        else:
            out[key] = _renamed(value, properties=key == "properties")
    return out


def _schemas(models: list[tuple[type[BaseModel], str]]) -> tuple[dict[Any, Any], dict[str, Any]]:
    keyed, top = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    defs = {RENAMED.get(name, name): _renamed(schema) for name, schema in top.get("$defs", {}).items()}
    return {key: _renamed(value) for key, value in keyed.items()}, defs


def _parameters(query: type[Query], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """One OpenAPI query parameter per field of ``query`` (its validation schema)."""
    params = []
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    for name in query.model_fields:
        prop = dict(props[name])
        prop.pop("title", None)
        description = prop.pop("description", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _reply(reply: Reply, keyed: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.model is not None:
        out["content"] = {reply.media_type: {"schema": keyed[(reply.model, "serialization")]}}
    elif reply.schema is not None:
        out["content"] = {reply.media_type: {"schema": reply.schema}}
    if reply.retry_after:
        out["headers"] = {"Retry-After": {
            "description": "Seconds to wait before asking again.", "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }}  # fmt: skip
    return out


def document(app: Flask, base_url: str) -> dict[str, Any]:
    """The whole OpenAPI document for ``app``, with ``base_url`` as its server."""
    routes: list[tuple[str, str, Operation]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            if rule.rule.startswith("/api/v1/"):
                raise LookupError(f"{rule.rule} ({rule.endpoint}) has no documented operation")
            continue
        routes += [(_path(rule.rule), method.lower(), operation)
                   for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]  # fmt: skip
    answers = {r.model for _, _, op in routes for r in op.replies if r.model is not None}
    queries = {op.query for _, _, op in routes if op.query is not None}
    inputs: list[tuple[type[BaseModel], str]] = [(q, "validation") for q in sorted(queries, key=repr)]
    outputs: list[tuple[type[BaseModel], str]] = [(m, "serialization") for m in sorted(answers, key=repr)]
    keyed, defs = _schemas(inputs + outputs)
    defs["Province"] = _provinces_schema()
    # Parameters are listed one by one: the query models themselves are no component schemas.
    query_schemas = {query: _query_schema(query, keyed, defs) for query in queries}
    for query in queries:
        defs.pop(query.__name__, None)
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op in routes:
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
                   "description": text} for name, text in op.path_params.items()]  # fmt: skip
        if op.query is not None:
            params += _parameters(op.query, query_schemas[op.query])
        entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
        if op.description:
            entry["description"] = op.description
        if params:
            entry["parameters"] = params
        entry["responses"] = {str(r.status): _reply(r, keyed) for r in op.replies}
        # Answered by the HTTP server before the application (gunicorn's request-line limit).
        entry["responses"].setdefault(
            "414",
            {
                "description": "The request line is longer than the server "
                "accepts (4,094 bytes): ask with fewer or shorter parameters."
            },
        )
        paths.setdefault(path, {})[method] = entry
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": base_url.rstrip("/")}],
        "paths": paths,
        "components": {"schemas": defs},
    }


def _provinces_schema() -> dict[str, Any]:
    """The current provinces' slugs (the ``province`` facet's values), read from the registry."""
    slugs = sorted(p.slug for p in Provinces.load(get_session()).current())
    return {"type": "string", "enum": slugs, "description": "A current province (its slug)."}


def _query_schema(query: type[Query], keyed: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The query model's own schema (``keyed`` holds a reference to it)."""
    ref = keyed[(query, "validation")].get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    return defs.get(name) or query.model_json_schema(ref_template=REF)


# ----------------------------------------------------------------------------- for people (/api)


def type_html(schema: dict[str, Any], shapes: str = "") -> Markup:
    """A schema in a few words (``string or null``, ``array of Product``), names linked to their section
    on the data shapes' page ``shapes`` (empty: this page)."""
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return Markup('<a href="{1}#schema-{0}">{0}</a>').format(name, shapes)
    if "const" in schema:
        return Markup("<code>{}</code>").format(schema["const"])
    if "enum" in schema:
        return Markup(" | ").join(Markup("<code>{}</code>").format(v) for v in schema["enum"])
    variants = schema.get("anyOf") or schema.get("oneOf")
    if variants:
        return Markup(" | ").join(type_html(v, shapes) for v in variants)
    kind = schema.get("type", "any")
    if kind == "array":
        return Markup("array of {}").format(type_html(schema.get("items", {}), shapes))
    text = schema.get("format") or str(kind)
    limits = [f"{word} {schema[key]}" for key, word in (("minimum", "≥"), ("maximum", "≤"),
              ("minLength", "length ≥"), ("maxLength", "length ≤")) if key in schema]  # fmt: skip
    return Markup("{} {}").format(text, f"({', '.join(limits)})" if limits else "")


def prose_html(text: str | None) -> Markup:
    """A description with its `code spans` set as code, the rest escaped."""
    parts = re.split(r"`([^`]+)`", text or "")
    return Markup("").join(Markup("<code>{}</code>").format(p) if i % 2 else p for i, p in enumerate(parts))
