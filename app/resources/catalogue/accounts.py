"""Seed 000's embedded account as a property value: the accounts domain's ``embed_account`` rendered.

``{"@type": "account", "id", "email", "type", "_links": {"self": /api/v1/user/{id}/}}``, or None.
"""

from app.resources.accounts.represent import embed_account


def account_embed(account):
    """The account as seed 000 embeds it (the shared renderer of the accounts domain), or None."""
    if account is None:
        return None
    return embed_account(account).to_dict()
