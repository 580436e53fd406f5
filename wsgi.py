"""The WSGI entry point: ``gunicorn wsgi:app``.

Without Flask-Migrate (``create_app(migrations=False)``): web workers never migrate; ``halyard start``
applies migrations before it starts them.

``gc.freeze()`` once the app is built: the ≈ 150,000 objects of the app (routes, models, schemas, compiled
statements) live as long as the worker, and frozen, the collector stops walking them. Without it each
full collection walks them all (≈ 85 ms here; measured as ≈ 3 % of a one-asset read's CPU over 20,000
reads, docs/datamanager.md "Tenth round"). Under ``gunicorn --preload`` this is also what Python's
``gc.freeze`` documentation advises before a fork: the workers share those pages instead of copying them."""

import gc

from app import create_app

app = create_app(migrations=False)
gc.freeze()
