"""Halyard's small, domain-free HAL library.

Links and URI templates (``links``), the CURIE registry (``curies``), HAL
documents (``document``), HAL-FORMS templates (``forms``), collections with
the §4 query grammar (``collection``, ``grammar``), content negotiation and
rendering (``negotiation``) and conditional requests (``conditional``).
It imports nothing from the rest of the application.
"""

from .collection import Collection, Page, TotalsCache
from .conditional import (
    PreconditionFailed,
    PreconditionRequired,
    check_if_match,
    etag_for,
    make_conditional,
    representation_suffix,
)
from .curies import CurieRegistry
from .cursor import CursorCodec
from .document import Document
from .forms import OptionsLink, Property, Template, properties_from_schema
from .grammar import Field, Query, QueryError
from .links import Link, encode_varname, expand, query_template
from .negotiation import (
    HAL_FORMS,
    HAL_JSON,
    HTML,
    JSON,
    OFFERED,
    PROBLEM_JSON,
    VND_HAL_JSON,
    NotAcceptable,
    encode_json,
    negotiate,
    render,
    set_html_renderer,
)

__all__ = [
    "Collection",
    "TotalsCache",
    "CurieRegistry",
    "CursorCodec",
    "Document",
    "Field",
    "HAL_FORMS",
    "HAL_JSON",
    "HTML",
    "JSON",
    "Link",
    "NotAcceptable",
    "OFFERED",
    "PROBLEM_JSON",
    "Page",
    "PreconditionFailed",
    "PreconditionRequired",
    "OptionsLink",
    "Property",
    "Query",
    "QueryError",
    "Template",
    "VND_HAL_JSON",
    "check_if_match",
    "encode_json",
    "encode_varname",
    "etag_for",
    "expand",
    "make_conditional",
    "negotiate",
    "properties_from_schema",
    "query_template",
    "render",
    "representation_suffix",
    "set_html_renderer",
]
