"""accounts: the auth_requests table (device-style sign-in) and indexes for the users/groups grammar

Revision ID: accounts_0001
Revises: 0001
Create Date: 2026-11-22 02:07:02.094777

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "accounts_0001"
down_revision = "0001"
branch_labels = ("accounts",)
depends_on = None


def upgrade():
    op.create_table(
        "auth_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("attached_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_auth_requests_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_requests")),
        sa.UniqueConstraint("uuid", name=op.f("uq_auth_requests_uuid")),
    )
    with op.batch_alter_table("auth_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_requests_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_requests_created"), ["created"], unique=False)

    with op.batch_alter_table("account_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_groups_group_id"), ["group_id"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_created"), ["created"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_type"), ["type"], unique=False)

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_groups_created"), ["created"], unique=False)


def downgrade():
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_groups_created"))

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_type"))
        batch_op.drop_index(batch_op.f("ix_accounts_created"))

    with op.batch_alter_table("account_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_groups_group_id"))

    with op.batch_alter_table("auth_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_requests_created"))
        batch_op.drop_index(batch_op.f("ix_auth_requests_account_id"))

    op.drop_table("auth_requests")
