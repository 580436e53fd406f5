"""HAL documents: properties plus ``_links``, ``_embedded`` and ``_templates``.

A ``Document`` is built fluently by a resource's ``represent()`` function and
rendered with ``to_dict``. It keeps HAL's shape rules: a relation is either a
single object or always an array, never both; ``self`` comes first; the
``curies`` array appears once, on the top-level document, only when a
curied relation is used anywhere in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .links import Link

if TYPE_CHECKING:
    from .curies import CurieRegistry
    from .forms import Template


def _as_link(value: str | Link, **kwargs: Any) -> str | Link:
    """A Link with the keyword overrides applied, or a plain href (kept as the string: most links
    are only an href, and a page of items has dozens of them)."""
    if isinstance(value, Link):
        return dataclasses.replace(value, **kwargs) if kwargs else value
    return Link(value, **kwargs) if kwargs else value


_NONE: Mapping[str, Any] = MappingProxyType({})  # the read-only empty _embedded/_templates


def _rel_group(rel: str) -> int:
    """Ordering key: self, then registered names (no colon), then curied/URI rels."""
    if rel == "self":
        return 0
    return 2 if ":" in rel else 1


class Document:
    """A HAL resource under construction; every mutator returns ``self``."""

    def __init__(self, properties: dict[str, Any] | None = None, self_href: str | None = None) -> None:
        """Start a document with JSON-ready ``properties`` and an optional self href."""
        self.properties: dict[str, Any] = dict(properties) if properties else {}
        # The first link is self (when given), so the rels start in the order _links renders them.
        self._links: dict[str, str | Link | list[str | Link]] = (
            {} if self_href is None else {"self": self_href}
        )
        # Most documents (every item of a page) embed nothing and carry no template: these two stay
        # the shared empty mapping until the first embed()/template() gives the document its own.
        self._embedded: Mapping[str, Document | list[Document]] = _NONE
        self._templates: Mapping[str, Template] = _NONE
        self._group = 0  # the group (_rel_group) of the last rel added, while rels are in group order
        self.native: Any = None  # the seed-native body, see with_native()
        if self_href is not None and self_href.__class__ is not str:
            self._links["self"] = _as_link(self_href)

    def link(self, rel: str, href: str | Link, **link_kwargs: Any) -> Document:
        """Add a single-valued link; a rel can be set only once."""
        links = self._links
        if rel in links:
            raise ValueError(f"link relation {rel!r} is already set")
        plain = href.__class__ is str and not link_kwargs  # most links: only an href
        links[rel] = href if plain else _as_link(href, **link_kwargs)
        self._added(rel)
        return self

    def _added(self, rel: str) -> None:
        """Keep track of whether the rels are still in the order _links renders them (_rel_group)."""
        if self._group is not None:
            group = 0 if rel == "self" else 2 if ":" in rel else 1
            self._group = group if group >= self._group else None  # None: sort when rendering

    def links(self, rel: str, hrefs: Iterable[str | Link]) -> Document:
        """Add an array-valued link rel (an array even when empty); repeated calls extend it."""
        current = self._links.get(rel)
        if current is None:
            current = self._links[rel] = []
            self._added(rel)
        elif current.__class__ is not list:
            raise ValueError(f"link relation {rel!r} is already a single link")
        current.extend(hrefs)  # _as_link without overrides keeps each href as given
        return self

    def embed(self, rel: str, doc: Document) -> Document:
        """Embed a single resource under ``rel``; a rel can be set only once."""
        if rel in self._embedded:
            raise ValueError(f"embedded relation {rel!r} is already set")
        if self._embedded is _NONE:
            self._embedded = {}
        self._embedded[rel] = doc
        return self

    def embed_many(self, rel: str, docs: Iterable[Document]) -> Document:
        """Embed an array of resources under ``rel`` (an array even when empty)."""
        if self._embedded is _NONE:
            self._embedded = {}
        current = self._embedded.setdefault(rel, [])
        if not isinstance(current, list):
            raise ValueError(f"embedded relation {rel!r} is already a single resource")
        current.extend(docs)
        return self

    def template(self, name: str, tpl: Template) -> Document:
        """Add a HAL-FORMS template; the main one should be called ``default``."""
        if name in self._templates:
            raise ValueError(f"template {name!r} is already set")
        if self._templates is _NONE:
            self._templates = {}
        self._templates[name] = tpl
        return self

    def with_native(self, body: Any) -> Document:
        """Attach the JSON body a non-HAL client of this resource expects: a dict or a list, or a
        function returning one when it is rendered (so it sees properties a view sets afterwards).

        The application decides when it is sent instead of the HAL rendering (Halyard: seed-native
        JSON, app/native.py); without it that body is derived from the properties.
        """
        self.native = body
        return self

    def href(self, rel: str) -> str | None:
        """The href of the single link ``rel``, if any."""
        link = self._links.get(rel)
        if isinstance(link, str):
            return link
        return link.href if isinstance(link, Link) else None

    def embedded(self, rel: str) -> Document | list[Document] | None:
        """The resource(s) embedded under ``rel``, if any."""
        return self._embedded.get(rel)

    @property
    def embedded_rels(self) -> list[str]:
        """The embedded rels, in the order they were added."""
        return list(self._embedded)

    @property
    def self_href(self) -> str | None:
        """The href of the ``self`` link, if any."""
        return self.href("self")

    def uses_rel(self, predicate: Callable[[str], bool]) -> bool:
        """Whether a link or embedded rel here or in an embedded document satisfies ``predicate``
        (stops at the first: a collection's own curied links answer before its items are visited)."""
        if any(predicate(rel) for rel in self._links) or any(predicate(rel) for rel in self._embedded):
            return True
        return any(child.uses_rel(predicate) for child in self._children())

    def _children(self) -> list[Document]:
        """Embedded documents, flattened."""
        out: list[Document] = []
        for value in self._embedded.values():
            out.extend(value if isinstance(value, list) else [value])
        return out

    def validate(self, path: str = "$") -> list[str]:
        """List shape problems: a missing ``self`` link here or in any embedded document."""
        problems = [] if self.self_href else [f"{path}: missing _links.self"]
        for rel, value in self._embedded.items():
            if isinstance(value, list):
                for i, child in enumerate(value):
                    problems += child.validate(f"{path}._embedded[{rel!r}][{i}]")
            else:
                problems += value.validate(f"{path}._embedded[{rel!r}]")
        return problems

    def to_dict(
        self,
        *,
        curies: CurieRegistry | None = None,
        base_url: str | None = None,
        with_templates: bool = False,
    ) -> dict[str, Any]:
        """Render as a HAL (or HAL-FORMS, ``with_templates``) dict.

        The ``curies`` link is added when ``curies`` and ``base_url`` are given
        and a curied rel appears in this document or any embedded one. ``with_templates`` renders
        the ``_templates`` of embedded documents too (what a client may do with each item).
        """
        out = dict(self.properties)
        curie = None
        if curies is not None and base_url is not None:
            if self.uses_rel(curies.is_curied):
                curie = curies.curie_link(base_url)
        links = self._render_links(curie)
        if links:
            out["_links"] = links
        if self._embedded:
            out["_embedded"] = {
                rel: [d.to_dict(with_templates=with_templates) for d in value]
                if isinstance(value, list)
                else value.to_dict(with_templates=with_templates)
                for rel, value in self._embedded.items()
            }
        if with_templates and self._templates:
            names = sorted(self._templates, key=lambda n: n != "default")
            out["_templates"] = {n: self._templates[n].to_dict(self.properties) for n in names}
        return out

    def _render_links(self, curie: dict[str, Any] | None) -> dict[str, Any]:
        """``_links`` ordered self, registered rels, curies, curied rels."""
        links = self._links
        ordered = links if self._group is not None else sorted(links, key=_rel_group)  # stable
        out: dict[str, Any] = {}
        for rel in ordered:
            if curie is not None and ":" in rel and "curies" not in out:  # the first curied rel
                out["curies"] = [curie]
            value = links[rel]
            kind = value.__class__
            if kind is str:  # most links: only an href (inline, not a call per link)
                out[rel] = {"href": value}
            elif kind is list:
                out[rel] = [{"href": link} if link.__class__ is str else link.to_dict() for link in value]
            else:
                out[rel] = value.to_dict()
        if curie is not None and "curies" not in out:
            out["curies"] = [curie]
        return out
