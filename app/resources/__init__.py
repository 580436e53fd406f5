"""Domain blueprints: every package here with an ``init_app(app)`` is registered.

Discovery keeps ``create_app`` and the entry point free of hand-kept lists: a
domain lands by adding its package; its ``init_app`` registers the blueprint,
documents its relations and adds its links to ``GET /`` (``register_entry``).
"""

import importlib
import importlib.util
import pkgutil

from app.resources import root


def init_app(app):
    root.init_app(app)
    domains = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)
    # Every model first: relationships name classes of other domains by string, and the first
    # query (even one a domain runs while registering) configures all mappers at once.
    for domain in domains:
        if importlib.util.find_spec(f"{__name__}.{domain}.models") is not None:
            importlib.import_module(f"{__name__}.{domain}.models")
    for domain in domains:
        package = importlib.import_module(f"{__name__}.{domain}")
        if hasattr(package, "init_app"):
            package.init_app(app)
