"""Extension objects, created unbound and bound to the app in create_app()."""
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.hal import CurieRegistry


class Base(DeclarativeBase):
    # Named constraints, so migrations (SQLite batch mode included) can alter them later.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base)
migrate = Migrate()

basic_auth = HTTPBasicAuth(realm="Halyard")
bearer_auth = HTTPTokenAuth(scheme="Bearer", realm="Halyard")
token_auth = HTTPTokenAuth(scheme="Token", realm="Halyard")
auth = MultiAuth(basic_auth, bearer_auth, token_auth)

# The one CURIE ("ec") and the documentation of every relation served under /rels/{rel}.
curies = CurieRegistry("ec")


def core_connection():
    """The ORM session's connection, for Core statements inside the session's transaction.

    ``Session.connection()`` walks the session's transaction state machine on every call, which costs
    more than a short indexed SELECT; the hot read paths (token check, asset reads) call this instead,
    which looks the connection up once per session transaction and reuses it until that transaction
    ends (commit, rollback and close start a new one, which misses the cache)."""
    session = db.session()
    cached = session.info.get("halyard.connection")
    transaction = session._transaction
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    connection = session.connection()
    session.info["halyard.connection"] = (session._transaction, connection)
    return connection
