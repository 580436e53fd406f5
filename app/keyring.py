"""SECRET_KEY rotation (docs/operations.md "Secrets rotation").

``SECRET_KEY`` may hold a list of keys, newest first (in instance/config.py, or in the environment as a
JSON list: ``SECRET_KEY='["new", "old"]'``). ``config.finalize`` keeps the newest as ``SECRET_KEY`` (what
signs and keys hashes) and the others as Flask's ``SECRET_KEY_FALLBACKS``. Stored secrets (a schedule's
signing secret and bearer token, a data source's connection URL) are encrypted with a ``MultiFernet``
of every key: they decrypt with any key and are encrypted with the newest. ``halyard secrets rotate``
re-encrypts every stored secret with the newest key (``rotate_all``), after which the old key can go.

Each kind of stored secret derives its own Fernet key from a SECRET_KEY (``derive``), so one leaked
derived key opens only that kind.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select

from app.extensions import db

__all__ = ["InvalidToken", "keyring", "rotate_all", "secret_keys", "split_keys"]


def split_keys(value):
    """The keys of a SECRET_KEY setting, newest first: a list, a JSON list in a string, or one key."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        import json

        value = json.loads(value)
    keys = [value] if isinstance(value, str) else list(value or [])
    if not all(isinstance(key, str) and key for key in keys):
        raise ValueError("SECRET_KEY: every key must be a non-empty string")
    return keys


def secret_keys(config=None):
    """Every configured SECRET_KEY, newest first."""
    config = current_app.config if config is None else config
    return [config["SECRET_KEY"], *config.get("SECRET_KEY_FALLBACKS", [])]


@functools.lru_cache(maxsize=32)
def _multifernet(derive, keys):
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derive(key.encode()))) for key in keys])


def keyring(derive):
    """The MultiFernet of every SECRET_KEY for one kind of secret (``derive(key_bytes) -> 32 bytes``)."""
    return _multifernet(derive, tuple(secret_keys()))


def rotate_all(stored):
    """Re-encrypt every stored secret with the newest key; ``stored`` is (model, [column names],
    derive) per kind. Returns {"model.column": count re-encrypted}; raises InvalidToken (nothing
    committed) when a value decrypts with none of the keys."""
    counts = {}
    for model, columns, derive in stored:
        fernet = keyring(derive)
        for column in columns:
            attribute = getattr(model, column)
            counts[f"{model.__tablename__}.{column}"] = 0
            for row in db.session.scalars(select(model).where(attribute.is_not(None))):
                setattr(row, column, fernet.rotate(getattr(row, column).encode()).decode())
                counts[f"{model.__tablename__}.{column}"] += 1
    db.session.commit()
    return counts
