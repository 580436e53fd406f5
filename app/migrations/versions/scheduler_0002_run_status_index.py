"""scheduler: index schedule_runs.status (orphaned-run recovery of the tick design)

Revision ID: scheduler_0002
Revises: scheduler_0001
Create Date: 2026-11-23 10:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "scheduler_0002"
down_revision = "scheduler_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_runs_status"), ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_runs_status"))
