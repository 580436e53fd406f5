"""accounts: api_tokens.scopes (what a token may do: read, write, admin, metrics; existing tokens keep all)

Revision ID: accounts_0003
Revises: accounts_0002
Create Date: 2026-12-03 05:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "accounts_0003"
down_revision = "accounts_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(
            sa.Column(
                "scopes", sa.String(length=64), server_default="read write admin metrics", nullable=False
            )
        )


def downgrade():
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("scopes")
