"""scheduler: schedule_runs.sending_at (when the current attempt was claimed; lost-attempt recovery)

Revision ID: scheduler_0003
Revises: scheduler_0002
Create Date: 2026-11-30 00:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "scheduler_0003"
down_revision = "scheduler_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_column("sending_at")
