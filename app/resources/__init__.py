"""Domain blueprints: every package here with an ``init_app(app)`` is registered.

Discovery keeps ``create_app`` and the entry point free of hand-kept lists: a
domain lands by adding its package; its ``init_app`` registers the blueprint,
documents its relations and adds its links to ``GET /`` (``register_entry``).
"""
import importlib
import pkgutil


def init_app(app):
    from app.resources import root

    root.init_app(app)
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg):
        package = importlib.import_module(f"{__name__}.{module}")
        if hasattr(package, "init_app"):
            package.init_app(app)
