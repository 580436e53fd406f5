"""The WSGI entry point: ``gunicorn wsgi:app``.

Without Flask-Migrate (``create_app(migrations=False)``): web workers never migrate; ``halyard start``
applies migrations before it starts them."""

from app import create_app

app = create_app(migrations=False)
