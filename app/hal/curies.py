"""The CURIE prefix and the registry of documented link relations.

Halyard uses one CURIE (``ec`` by default). Every curied relation a
resource emits should be documented here, so ``GET /rels/{rel}`` can
describe what it points to, which methods it allows and what its
properties and templates are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _plain(value: Any) -> Any:
    """Turn objects with ``to_dict`` (Property, Template, Link) into dicts, recursively."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class CurieRegistry:
    """One CURIE prefix plus the documentation of every relation under it."""

    def __init__(self, name: str = "ec") -> None:
        """Create an empty registry for the prefix ``name``."""
        self.name = name
        self._rels: dict[str, dict[str, Any]] = {}

    @property
    def prefix(self) -> str:
        """The prefix with its colon, e.g. ``"ec:"``."""
        return f"{self.name}:"

    def strip(self, rel: str) -> str:
        """Return ``rel`` without the CURIE prefix (``ec:assets`` → ``assets``)."""
        return rel[len(self.prefix) :] if self.is_curied(rel) else rel

    def is_curied(self, rel: str) -> bool:
        """True when ``rel`` carries this registry's prefix."""
        return rel.startswith(self.prefix)

    def document(
        self,
        rel: str,
        *,
        title: str,
        description: str,
        methods: Iterable[str] = ("GET",),
        properties: Iterable[Any] | None = None,
        templates: Mapping[str, Any] | None = None,
        href_hint: str | None = None,
    ) -> dict[str, Any]:
        """Register documentation for ``rel`` (given without prefix) and return it.

        Registering the same relation again with identical content is a no-op;
        different content raises ``ValueError`` so two modules cannot disagree.
        """
        rel = self.strip(rel)
        entry = {
            "rel": rel,
            "curie": self.prefix + rel,
            "title": title,
            "description": description,
            "methods": [m.upper() for m in methods],
            "properties": _plain(list(properties or [])),
            "templates": _plain(dict(templates or {})),
            "href": href_hint,
        }
        existing = self._rels.get(rel)
        if existing is not None and existing != entry:
            raise ValueError(f"relation {rel!r} is already documented differently")
        self._rels[rel] = entry
        return entry

    def get(self, rel: str) -> dict[str, Any] | None:
        """The documentation of ``rel`` (with or without prefix), or ``None``."""
        return self._rels.get(self.strip(rel))

    def all(self) -> list[dict[str, Any]]:
        """Every documented relation, sorted by rel name."""
        return [self._rels[k] for k in sorted(self._rels)]

    def curie_link(self, base_url: str) -> dict[str, Any]:
        """The CURIE link object pointing at ``<base_url>/rels/{rel}``."""
        return {
            "name": self.name,
            "href": base_url.rstrip("/") + "/rels/{rel}",
            "templated": True,
        }

    def __contains__(self, rel: object) -> bool:
        """True when ``rel`` (with or without prefix) is documented."""
        return isinstance(rel, str) and self.strip(rel) in self._rels
