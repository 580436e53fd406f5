"""datamanager: datamanagers.assets_generation (the asset collections' totals cache)

Revision ID: datamanager_0002
Revises: datamanager_0001
Create Date: 2026-11-30 00:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "datamanager_0002"
down_revision = "datamanager_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("datamanagers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assets_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("datamanagers", schema=None) as batch_op:
        batch_op.drop_column("assets_generation")
