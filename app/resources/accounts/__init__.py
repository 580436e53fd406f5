"""Accounts: the Account model every domain uses, API tokens and groups.

The HTTP endpoints of this domain (sign-in flow, users, groups, token management)
belong to the accounts issue; the foundation provides the models and app/auth.py.
"""
