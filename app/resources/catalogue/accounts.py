"""Seed 000's embedded account: ``{"@type": "account", "id", "email", "type"}`` plus ``_links.self``.

TEMPORARY: the accounts issue (branch ``accounts``) exposes the shared renderer of an embedded
account; at integration this module is replaced by it (same shape, self at ``/api/v1/user/{id}/``).
"""
from flask import request


def account_embed(account):
    """The account as seed 000 embeds it, or None."""
    if account is None:
        return None
    return {
        "@type": "account",
        "id": account.id,
        "email": account.email,
        "type": account.type,
        "_links": {"self": {"href": f"{request.host_url.rstrip('/')}/api/v1/user/{account.id}/"}},
    }
