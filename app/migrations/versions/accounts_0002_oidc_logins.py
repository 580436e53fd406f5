"""accounts: oidc_logins (state, nonce and PKCE verifier of an OpenID Connect sign-in)

Revision ID: accounts_0002
Revises: accounts_0001
Create Date: 2026-12-02 18:23:41

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "accounts_0002"
down_revision = "accounts_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "oidc_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auth_request_id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["auth_request_id"],
            ["auth_requests.id"],
            name=op.f("fk_oidc_logins_auth_request_id_auth_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_logins")),
        sa.UniqueConstraint("auth_request_id", name=op.f("uq_oidc_logins_auth_request_id")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oidc_logins_state_hash")),
        sqlite_autoincrement=True,
    )


def downgrade():
    op.drop_table("oidc_logins")
