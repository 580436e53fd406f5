"""Sign-in throttling: failed password checks counted per account and per client address (docs/auth.md).

Past ``HALYARD_LOGIN_MAX_FAILURES`` failures in ``HALYARD_LOGIN_WINDOW_SECONDS`` the account or the
address is locked until that window ends: every attempt gets 429 ``TOO_MANY_FAILED_SIGN_INS`` with
``Retry-After``, whatever the password, right or wrong, and whether or not a credential cache would
have vouched for it. ``password_sign_in`` is the one door of every password check (Basic, the
password verifier, a password change); app/auth.py also calls ``throttle().check`` before it uses its
cache of verified Basic credentials.
"""

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from app import metrics
from app.ctx import current_app, request
from app.errors import TooManyRequests
from app.jobs import get_redis


class Throttle:
    """Failed sign-in counters in Redis, shared by every web worker: one per account, one per address.

    An account is counted by its id when the login names one (its email, username and their spellings
    share one counter), else by a hash of the login. A counter is created with its window's expiry in
    the same transaction that first counts (MULTI: it never exists without one), so a lock always ends.
    """

    def __init__(self, redis, max_failures, window):
        self.redis, self.max_failures, self.window = redis, max_failures, window

    @staticmethod
    def keys(login, account_id=None):
        prefix = current_app.config["HALYARD_QUEUE_PREFIX"]
        if account_id is not None:
            subject = f"id-{account_id}"
        else:
            subject = hashlib.sha256(login.lower().encode()).hexdigest()[:32]
        return (f"{prefix}:signin-fail:account:{subject}", f"{prefix}:signin-fail:addr:{request.remote_addr}")

    def retry_after(self, login, account_id=None):
        """Seconds until sign-in is allowed again, or 0 when it is allowed now (one MGET when it is)."""
        keys = self.keys(login, account_id)
        locked = [
            key
            for key, count in zip(keys, self.redis.mget(keys), strict=False)
            if count is not None and int(count) >= self.max_failures
        ]
        return max([max(self.redis.ttl(key), 1) for key in locked], default=0)

    def check(self, login, account_id=None):
        """429 while the account or the client address is locked, whatever the credential offered."""
        wait = self.retry_after(login, account_id)
        if wait:
            raise TooManyRequests(
                "Too many failed sign-ins; wait before trying again.",
                event="TOO_MANY_FAILED_SIGN_INS",
                headers={"Retry-After": str(wait)},
            )

    def record_failure(self, login, account_id=None):
        metrics.signin_failed()
        pipe = self.redis.pipeline()  # MULTI/EXEC
        for key in self.keys(login, account_id):
            pipe.set(key, 0, ex=self.window, nx=True)  # a new counter: its window starts now
            pipe.incr(key)
        pipe.execute()

    def reset_account(self, login, account_id=None):
        self.redis.delete(self.keys(login, account_id)[0])


def throttle():
    config = current_app.config
    return Throttle(get_redis(), config["HALYARD_LOGIN_MAX_FAILURES"], config["HALYARD_LOGIN_WINDOW_SECONDS"])


def password_sign_in(login, account, password):
    """Whether ``password`` is ``account``'s, under the sign-in throttle: the one door of every check of a
    password (Basic, the password verifier, a password change).

    Raises TooManyRequests (429) while the account or the client address is locked, before the password
    is looked at. A failure counts against both; a success resets the account's counter. ``account``
    None (an unknown login) costs a password hash too, so timing does not tell which logins exist.
    """
    guard, account_id = throttle(), account.id if account is not None else None
    guard.check(login, account_id)
    if account is None:
        _burn_a_hash(password)
    if account is None or not account.check_password(password):
        guard.record_failure(login, account_id)
        return False
    guard.reset_account(login, account_id)
    return True


def _burn_a_hash(password):
    method = current_app.config["HALYARD_PASSWORD_HASH_METHOD"]
    key = ("halyard.dummy-hash", method)
    if key not in current_app.extensions:
        current_app.extensions[key] = generate_password_hash(secrets.token_hex(16), method=method)
    check_password_hash(current_app.extensions[key], password)
