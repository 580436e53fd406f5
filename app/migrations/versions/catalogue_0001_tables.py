"""catalogue: catalogue items (bound to data sources), download requests and their waiters

Revision ID: catalogue_0001
Revises: 0001
Create Date: 2026-11-22 02:17:31.426381

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "catalogue_0001"
down_revision = "0001"
branch_labels = ("catalogue",)
# catalogue_items.datasource_id references the datasources branch's table
depends_on = "datasources_0001"


def upgrade():
    op.create_table(
        "catalogue_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("executor_type", sa.String(length=20), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("sample", sa.JSON(), nullable=False),
        sa.Column("has_samples", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("maintained_by_id", sa.Integer(), nullable=True),
        sa.Column("datasource_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["accounts.id"],
            name=op.f("fk_catalogue_items_created_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["datasources.id"],
            name=op.f("fk_catalogue_items_datasource_id_datasources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["maintained_by_id"],
            ["accounts.id"],
            name=op.f("fk_catalogue_items_maintained_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["accounts.id"],
            name=op.f("fk_catalogue_items_updated_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_items")),
        sa.UniqueConstraint("name", name=op.f("uq_catalogue_items_name")),
    )
    with op.batch_alter_table("catalogue_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalogue_items_created"), ["created"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalogue_items_created_by_id"), ["created_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalogue_items_datasource_id"), ["datasource_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalogue_items_executor_type"), ["executor_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalogue_items_has_samples"), ["has_samples"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalogue_items_maintained_by_id"), ["maintained_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_catalogue_items_updated"), ["updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalogue_items_updated_by_id"), ["updated_by_id"], unique=False)

    op.create_table(
        "download_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("catalogue_item_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("live_key", sa.String(length=64), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_cancelled", sa.Boolean(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("executor_job_id", sa.String(length=36), nullable=True),
        sa.Column("estimated_size", sa.BigInteger(), nullable=True),
        sa.Column("real_size", sa.BigInteger(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("file_key", sa.String(length=64), nullable=True),
        sa.Column("data_version", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["catalogue_item_id"],
            ["catalogue_items.id"],
            name=op.f("fk_download_requests_catalogue_item_id_catalogue_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["accounts.id"],
            name=op.f("fk_download_requests_created_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["executor_job_id"],
            ["jobs.id"],
            name=op.f("fk_download_requests_executor_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_requests")),
        sa.UniqueConstraint("live_key", name=op.f("uq_download_requests_live_key")),
    )
    with op.batch_alter_table("download_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_download_requests_catalogue_item_id"), ["catalogue_item_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_download_requests_created"), ["created"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_download_requests_created_by_id"), ["created_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_download_requests_dedupe_key"), ["dedupe_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_download_requests_is_cancelled"), ["is_cancelled"], unique=False)
        batch_op.create_index(batch_op.f("ix_download_requests_status"), ["status"], unique=False)

    op.create_table(
        "download_request_waiters",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_download_request_waiters_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["download_requests.id"],
            name=op.f("fk_download_request_waiters_request_id_download_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "account_id", name=op.f("pk_download_request_waiters")),
    )
    with op.batch_alter_table("download_request_waiters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_download_request_waiters_account_id"), ["account_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("download_request_waiters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_download_request_waiters_account_id"))

    op.drop_table("download_request_waiters")
    with op.batch_alter_table("download_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_download_requests_status"))
        batch_op.drop_index(batch_op.f("ix_download_requests_is_cancelled"))
        batch_op.drop_index(batch_op.f("ix_download_requests_dedupe_key"))
        batch_op.drop_index(batch_op.f("ix_download_requests_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_download_requests_created"))
        batch_op.drop_index(batch_op.f("ix_download_requests_catalogue_item_id"))

    op.drop_table("download_requests")
    with op.batch_alter_table("catalogue_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_items_updated_by_id"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_updated"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_maintained_by_id"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_has_samples"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_executor_type"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_datasource_id"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_catalogue_items_created"))

    op.drop_table("catalogue_items")
