"""Query models of the public API: request parameters validated with the types and limits
the OpenAPI document (:mod:`catalogue.api.spec`) states, refused in the one error shape."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.exceptions import BadRequest

from catalogue.search.facets import UNCLASSIFIED
from catalogue.search.params import MAX_PAGE, MAX_QUERY, SORTS

#: Largest page of the product API; the search page allows fewer.
MAX_PER_PAGE = 100
#: A typed certificate number (the form and the API take the same).
MAX_NUMBER = 100
#: Largest page of the change feed.
MAX_CHANGES = 500
#: Years a search filter accepts (``SearchParams.from_args`` checks the same range).
YEARS = (1900, 2200)


class Query(BaseModel):
    """Request parameters; names not declared are ignored (``lang`` picks the language anywhere).

    :meth:`parse` validates the request's arguments and turns the first problem into
    a 400 in the one error shape, worded for people in the request's language.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)
    #: Parameters a client may repeat (``status=valid&status=expired``).
    lists: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def parse(cls, args: Any) -> Self:
        raw = {name: (args.getlist(name) if name in cls.lists else args.get(name))
               for name in cls.model_fields if name in args}  # fmt: skip
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            value = first.get("input")
            raise BadRequest(description=cls.problem(name, "" if value is None else str(value))) from None

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        """The message for a refused value of parameter ``name``."""
        return _("The value “%(value)s” of %(name)s is not valid.", value=value[:60], name=name)


_LENIENT = " Names are matched leniently, with or without diacritics, in Vietnamese or English."
Status = Literal["valid", "expired", "revoked", "all"]
Sort = Literal["relevance", "newest", "name"]
assert get_args(Sort) == SORTS, "the documented orders are the search's"


def _enum_or_name(ref: str) -> dict[str, Any]:
    """A filter's values: the enumeration's (the facet's), or empty (ignored, as a form's blank choice
    sends it). Names are accepted too (see ``_LENIENT``) but are not part of the contract, so the
    document promises only what always works."""
    return {"items": {"anyOf": [{"$ref": f"#/components/schemas/{ref}"}, {"const": ""}]}}


#: The group filter also takes the "not yet classified" facet value.
_GROUP_VALUES: dict[str, Any] = {
    "items": {"anyOf": [*_enum_or_name("ProductGroup")["items"]["anyOf"], {"const": UNCLASSIFIED}]}
}


class FilterQuery(Query):
    """Filters of the product search; repeat one to match any of its values (facet values as returned)."""

    lists: ClassVar[frozenset[str]] = frozenset({"group", "province", "region", "level", "year", "status"})

    q: str = Field(default="", max_length=MAX_QUERY, description="Words to search for, with or without "
                   "Vietnamese diacritics, in any case (`gom bat trang` finds `Gốm Bát Tràng`); "
                   '`"quoted phrases"` and `prefix*` work; a GTIN (the 8, 12, 13 or 14 digits under a '
                   "barcode) finds the product carrying it first.")  # fmt: skip
    group: list[str] = Field(default=[], json_schema_extra=_GROUP_VALUES,
                             description="Product group: a value of the `group` facet or the group's name; "
                             f"`{UNCLASSIFIED}` for products not yet classified." + _LENIENT)  # fmt: skip
    province: list[str] = Field(
        default=[],
        json_schema_extra=_enum_or_name("Province"),
        description="A current province: a value of the `province` facet or a name (`Dong Thap`); it "
        "includes its pre-2025 predecessors, and a pre-2025 name also works." + _LENIENT,
    )
    region: list[str] = Field(default=[], json_schema_extra=_enum_or_name("Region"),
                              description="Region of a regional-level round." + _LENIENT)  # fmt: skip
    level: list[str] = Field(default=[], json_schema_extra=_enum_or_name("Level"),
                             description="Certificate level." + _LENIENT)  # fmt: skip
    year: list[Annotated[int, Field(ge=YEARS[0], le=YEARS[1])]] = Field(
        default=[], description="Year of selection."
    )
    status: list[Status] = Field(
        default=["valid"],
        description="Certificate status; `valid` by default, `all` includes expired "
        "and revoked. `expired` includes certificates whose decision states no expiry and whose "
        "registry-assumed validity (`expiry_basis: policy`) has passed.",
    )
    sort: Sort = Field(default="relevance", description="Order of the results.")

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        if name == "q":
            return _("Your search is too long: use at most %(max)d characters.", max=MAX_QUERY)
        if name == "year":
            return _("“%(value)s” is not a year.", value=value[:60])
        if name == "status":
            return _("Unknown status “%(value)s”: use valid, expired, revoked or all.", value=value[:60])
        if name == "sort":
            return _("Unknown sort order “%(value)s”.", value=value[:60])
        if name == "page":
            if value.isdigit() and int(value) > MAX_PAGE:
                return _("The page number is too large.")
            return _("The page number must be a whole number from 1.")
        if name == "per_page":
            return _("per_page must be a whole number from 1 to %(max)d.", max=MAX_PER_PAGE)
        return super().problem(name, value)


class ProductQuery(FilterQuery):
    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="Page number (up to 10,000); to walk "
                      "every result with no limit, follow `next` (a cursor) instead.")  # fmt: skip
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)
    cursor: str | None = Field(
        default=None,
        max_length=400,
        description="The `next_cursor` of the previous answer of the same search: the results after it "
        "(`page` is then ignored).",
    )


class ChangesQuery(Query):
    since: str | None = Field(
        default=None,
        max_length=4000,
        description="The `next` cursor of the previous answer, or the bulk download's `changes_cursor`, or "
        "`now` (no changes, only the cursor of this moment). Absent: from the oldest change kept.",
    )
    limit: int = Field(default=100, ge=1, le=MAX_CHANGES, description="Changes per answer.")

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        if name == "limit":
            return _("limit must be a whole number from 1 to %(max)d.", max=MAX_CHANGES)
        return super().problem(name, value)


class CodeQuery(Query):
    as_of: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        json_schema_extra={"format": "date"},
        description="Ask for the verdict on a past day (`YYYY-MM-DD`, not in the future): "
        '"was it valid on the day I bought it?". Such a question is not counted as a check.',
    )

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        return _("Enter the date as year-month-day, for example 2025-03-14.")


class NumberQuery(Query):
    number: str = Field(
        min_length=1,
        max_length=MAX_NUMBER,
        pattern=r"\S",
        description="The certificate number as printed (runs of spaces count as one). The answer never "
        "includes the verification code: numbers are guessable, codes are not.",
    )

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        return _("Give the certificate number as printed (up to %(max)d characters).", max=MAX_NUMBER)
