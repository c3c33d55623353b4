"""The OpenAPI 3 description of the public API (DESIGN §4), served at ``/api/v1/openapi.json``.

Written by hand as a static dict: the API is a stable public contract, so its
description changes only when the contract does.
"""

from __future__ import annotations

import copy
from typing import Any

_FILTERS: list[dict[str, Any]] = [
    {
        "name": "q",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Words to search for, with or without Vietnamese diacritics, in any case "
        "(`gom bat trang` finds `Gốm Bát Tràng`).",
    },
    {
        "name": "group",
        "in": "query",
        "schema": {"$ref": "#/components/schemas/ProductGroup"},
        "description": "Product group (a value from the `group` facet, or its name).",
    },
    {
        "name": "province",
        "in": "query",
        "schema": {"type": "string"},
        "description": "A current province (slug from the `province` facet, or a plain name with or without "
        "diacritics such as `Dong Thap`). A current province includes its pre-2025 predecessors; "
        "a pre-2025 name also works.",
    },
    {
        "name": "region",
        "in": "query",
        "schema": {"$ref": "#/components/schemas/Region"},
        "description": "Region of a regional-level round.",
    },
    {"name": "level", "in": "query", "schema": {"$ref": "#/components/schemas/Level"}},
    {
        "name": "year",
        "in": "query",
        "schema": {"type": "integer", "minimum": 2000},
        "description": "Year of selection.",
    },
    {
        "name": "status",
        "in": "query",
        "schema": {"type": "string", "enum": ["valid", "expired", "revoked", "all"], "default": "valid"},
        "description": "Certificate status; `valid` by default, `all` includes expired and revoked. "
        "`expired` includes certificates whose decision states no expiry and whose registry-assumed "
        "validity (`expiry_basis: policy`) has passed; the default `valid` leaves them out.",
    },
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
]

_SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Registry of outstanding rural industrial products — public API",
        "version": "1",
        "description": (
            "Open data on Vietnam's certified outstanding rural industrial products "
            "(sản phẩm công nghiệp nông thôn tiêu biểu): products, certificates, verification "
            "codes and the fairs and showrooms where products are shown. Read-only, no key needed. "
            "Unknown facts (a date, a certificate number, a producer) are `null`, never guessed. "
            "Certificate status is derived on each request from the dates."
        ),
        "license": {"name": "Public data"},
    },
    "paths": {
        "/api/v1/products": {
            "get": {
                "summary": "Search certified products with facets",
                "operationId": "searchProducts",
                "tags": ["products"],
                "parameters": _FILTERS,
                "responses": {
                    "200": {
                        "description": "One page of matching products and facet counts.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ProductPage"}}
                        },
                    },
                    "400": {
                        "description": "A filter value is not understood.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                    "503": {
                        "description": "This server's search index is being built (first start): "
                        "`building` holds `done` and `total` products; retry after `Retry-After` seconds.",
                    },
                },
            }
        },
        "/api/v1/products.csv": {
            "get": {
                "summary": "The same search as CSV (UTF-8, one row per certificate)",
                "operationId": "exportProducts",
                "tags": ["products"],
                "parameters": [p for p in _FILTERS if p["name"] not in ("page", "per_page")],
                "responses": {
                    "200": {
                        "description": "CSV export; cells that look like formulas are neutralised. "
                        "`expires_on` is the effective expiry and `expiry_basis` says whether the "
                        "decision printed it (`decision`) or the registry assumes it (`policy`).",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    "400": {"description": "A filter value is not understood."},
                    "503": {"description": "The search index is being built; retry after `Retry-After` s."},
                },
            }
        },
        "/api/v1/verify/{code}": {
            "get": {
                "summary": "Verify the code printed as a QR on a package",
                "operationId": "verifyCode",
                "tags": ["verification"],
                "parameters": [
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "The code from the QR (`/v/<code>`).",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "A known certificate with its current status.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}
                        },
                    },
                    "404": {
                        "description": "Unknown or tampered code.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"type": "string", "enum": ["unknown"]}},
                                    "required": ["status"],
                                }
                            }
                        },
                    },
                    "429": {"description": "Too many checks from this client; try again later."},
                },
            }
        },
        "/api/v1/verify": {
            "get": {
                "summary": "Look up certificates by the number printed next to the QR",
                "operationId": "verifyNumber",
                "tags": ["verification"],
                "parameters": [
                    {
                        "name": "number",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 100},
                        "description": "The certificate number as printed. The answer never includes "
                        "the verification code: numbers are guessable, codes are not.",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Every certificate with this number, with its current status.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Verification"},
                                        }
                                    },
                                    "required": ["items"],
                                }
                            }
                        },
                    },
                    "400": {"description": "No number, or one longer than 100 characters."},
                    "404": {"description": 'No certificate has this number (`{"status": "unknown"}`).'},
                    "429": {"description": "Too many checks from this client; try again later."},
                },
            }
        },
        "/api/v1/events": {
            "get": {
                "summary": "Trade fairs and showrooms",
                "operationId": "listEvents",
                "tags": ["events"],
                "responses": {
                    "200": {
                        "description": "Every fair and showroom: current and upcoming fairs first, then past "
                        "fairs (newest first), fairs with unknown dates, and showrooms.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "total": {"type": "integer"},
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Event"},
                                        },
                                    },
                                    "required": ["total", "items"],
                                }
                            }
                        },
                    },
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This description",
                "operationId": "openapi",
                "tags": ["meta"],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Health check",
                "operationId": "health",
                "tags": ["meta"],
                "responses": {
                    "200": {
                        "description": "`ok` when the database and the search index answer; "
                        "`ok; search index building (done/total)` while a first index is built.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "503": {"description": "A dependency is unavailable."},
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Level": {
                "type": "string",
                "enum": ["xa", "huyen", "tinh", "khu_vuc", "quoc_gia"],
                "description": "Commune (from 1/7/2025), district (until 30/6/2025), provincial, "
                "regional, national.",
            },
            "Region": {"type": "string", "enum": ["phia_bac", "mien_trung_tay_nguyen", "phia_nam"]},
            "ProductGroup": {
                "type": "string",
                "enum": [
                    "thu_cong_my_nghe",
                    "che_bien_nong_lam_thuy_san_thuc_pham",
                    "thiet_bi_may_moc_dung_cu_phu_tung_co_khi",
                    "khac",
                ],
            },
            "Status": {"type": "string", "enum": ["valid", "expired", "revoked"]},
            "ExpiryBasis": {
                "type": "string",
                "enum": ["decision", "policy"],
                "description": "`decision`: the expiry is printed in the decision. `policy`: the decision "
                "states no expiry and the registry assumes its standard validity for the level (set by "
                "ministry officials, see `/status`), counted from the issue date or the end of the year; "
                "`expired` with this basis means past that assumption, not an expiry a decision states.",
            },
            "Certificate": {
                "type": "object",
                "properties": {
                    "number": {
                        "type": "string",
                        "nullable": True,
                        "description": "As printed; null when not published.",
                    },
                    "level": {"$ref": "#/components/schemas/Level"},
                    "region": {"allOf": [{"$ref": "#/components/schemas/Region"}], "nullable": True},
                    "year": {"type": "integer"},
                    "round": {
                        "type": "string",
                        "description": "Slug of the selection round (`/rounds/<slug>`).",
                    },
                    "decision": {
                        "type": "string",
                        "nullable": True,
                        "description": "Number of the decision that recognised this certificate "
                        "(its own publication's, never another batch's).",
                    },
                    "decision_date": {"type": "string", "format": "date", "nullable": True},
                    "office": {
                        "type": "string",
                        "nullable": True,
                        "description": "Office that published the certificate in the registry.",
                    },
                    "issued_on": {"type": "string", "format": "date", "nullable": True},
                    "expires_on": {
                        "type": "string",
                        "format": "date",
                        "nullable": True,
                        "description": "Effective expiry: the decision's, or the one the registry "
                        "assumes today (see `expiry_basis`).",
                    },
                    "expiry_basis": {"$ref": "#/components/schemas/ExpiryBasis"},
                    "assumed_validity_years": {
                        "type": "integer",
                        "nullable": True,
                        "description": "The standard validity assumed (policy basis only).",
                    },
                    "expiry_from_policy": {
                        "type": "boolean",
                        "deprecated": True,
                        "description": 'Same as `expiry_basis == "policy"`.',
                    },
                    "status": {"$ref": "#/components/schemas/Status"},
                    "revoked_on": {"type": "string", "format": "date", "nullable": True},
                    "province_as_printed": {"type": "string", "nullable": True},
                    "source": {"type": "string", "nullable": True},
                    "source_note": {
                        "type": "string",
                        "nullable": True,
                        "description": "The source's remark on this record, as a source remark.",
                    },
                    "verify_url": {"type": "string", "format": "uri", "nullable": True},
                },
                "required": ["number", "level", "year", "expires_on", "expiry_basis", "status", "verify_url"],
            },
            "Product": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "url": {"type": "string", "format": "uri", "description": "The product's public page."},
                    "is_set": {"type": "boolean"},
                    "group": {
                        "allOf": [{"$ref": "#/components/schemas/ProductGroup"}],
                        "nullable": True,
                        "description": "null when not yet classified.",
                    },
                    "group_assigned_by_editors": {"type": "boolean", "nullable": True},
                    "locality": {"type": "string", "nullable": True},
                    "producer": {
                        "type": "object",
                        "nullable": True,
                        "properties": {
                            "name": {"type": "string"},
                            "kind": {"type": "string", "nullable": True},
                            "url": {"type": "string", "format": "uri"},
                        },
                    },
                    "province": {
                        "type": "object",
                        "properties": {
                            "as_printed": {"type": "string", "nullable": True},
                            "current": {"type": "string", "nullable": True},
                            "current_slug": {"type": "string", "nullable": True},
                        },
                    },
                    "certificates": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Certificate"},
                        "description": "Highest valid level first.",
                    },
                },
                "required": ["id", "name", "url", "province", "certificates"],
            },
            "FacetValue": {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "label": {"type": "string"},
                    "count": {"type": "integer"},
                },
            },
            "ProductPage": {
                "type": "object",
                "properties": {
                    "total": {"type": "integer"},
                    "page": {"type": "integer"},
                    "per_page": {"type": "integer"},
                    "suggestion": {
                        "type": "string",
                        "nullable": True,
                        "description": "A spelling to try when the words matched nothing.",
                    },
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Product"}},
                    "status_rules": {
                        "type": "object",
                        "description": "How status treats a certificate whose decision states no expiry.",
                        "properties": {
                            "url": {"type": "string", "format": "uri"},
                            "note": {"type": "string"},
                        },
                    },
                    "facets": {
                        "type": "object",
                        "description": "Counts per value for group, province, region, level, year and "
                        "status; values can be passed back as filters.",
                        "additionalProperties": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/FacetValue"},
                        },
                    },
                },
                "required": ["total", "items", "facets"],
            },
            "Verification": {
                "type": "object",
                "properties": {
                    "status": {"$ref": "#/components/schemas/Status"},
                    "expiry_basis": {"$ref": "#/components/schemas/ExpiryBasis"},
                    "status_rules_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "The public page explaining how status is decided.",
                    },
                    "product": {"type": "object"},
                    "certificate": {"$ref": "#/components/schemas/Certificate"},
                    "check_count": {
                        "type": "integer",
                        "nullable": True,
                        "description": "How many times this code has been checked "
                        "(null when the count is briefly unavailable; the verdict still stands).",
                    },
                },
                "required": ["status"],
            },
            "Event": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "slug": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                    "kind": {"type": "string", "enum": ["fair", "showroom"]},
                    "start_date": {"type": "string", "format": "date", "nullable": True},
                    "end_date": {"type": "string", "format": "date", "nullable": True},
                    "opening_hours": {"type": "string", "nullable": True},
                    "venue": {"type": "string", "nullable": True},
                    "province": {
                        "type": "object",
                        "properties": {
                            "as_printed": {"type": "string", "nullable": True},
                            "current": {"type": "string", "nullable": True},
                            "current_slug": {"type": "string", "nullable": True},
                        },
                    },
                    "organiser": {"type": "string", "nullable": True},
                    "booths": {
                        "type": "string",
                        "nullable": True,
                        "description": "As published (may be `>500`).",
                    },
                    "source": {"type": "string", "nullable": True},
                    "ics_url": {
                        "type": "string",
                        "format": "uri",
                        "nullable": True,
                        "description": "iCalendar file of a fair whose first day is known.",
                    },
                },
                "required": [
                    "name",
                    "url",
                    "kind",
                    "start_date",
                    "end_date",
                    "venue",
                    "province",
                    "organiser",
                ],
            },
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}


def spec(base_url: str) -> dict[str, Any]:
    """The spec with this deployment's address as its server."""
    document = copy.deepcopy(_SPEC)
    document["servers"] = [{"url": base_url.rstrip("/")}]
    return document
