"""scheduler: schedules, runs, deliveries, failed tasks

Revision ID: scheduler_0001
Revises: 0001
Create Date: 2026-11-22 02:09:35.231245

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "scheduler_0001"
down_revision = "0001"
branch_labels = ("scheduler",)
depends_on = None


def upgrade():
    op.create_table(
        "schedules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("frequency", sa.Integer(), nullable=True),
        sa.Column("endpoint", sa.String(length=2000), nullable=False),
        sa.Column("cron_definition", sa.String(length=200), nullable=True),
        sa.Column("interval_definition", sa.String(length=100), nullable=True),
        sa.Column("auth_token_encrypted", sa.Text(), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("anchor_at", sa.DateTime(), nullable=False),
        sa.Column("next_send_at", sa.DateTime(), nullable=True),
        sa.Column("last_run", sa.DateTime(), nullable=True),
        sa.Column("triggered", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["accounts.id"],
            name=op.f("fk_schedules_created_by_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["accounts.id"],
            name=op.f("fk_schedules_updated_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedules_created_by_id"), ["created_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedules_enabled"), ["enabled"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedules_next_send_at"), ["next_send_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedules_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.DateTime(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_runs_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint("schedule_id", "slot", name=op.f("uq_schedule_runs_schedule_id")),
    )
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_runs_schedule_id"), ["schedule_id"], unique=False)

    op.create_table(
        "schedule_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["schedule_runs.id"],
            name=op.f("fk_schedule_deliveries_run_id_schedule_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_deliveries_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_deliveries")),
    )
    with op.batch_alter_table("schedule_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_deliveries_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_deliveries_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_deliveries_schedule_id"), ["schedule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_deliveries_sent_at"), ["sent_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_deliveries_status_code"), ["status_code"], unique=False)

    op.create_table(
        "schedule_failed_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["schedule_runs.id"],
            name=op.f("fk_schedule_failed_tasks_run_id_schedule_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_failed_tasks_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_failed_tasks")),
        sa.UniqueConstraint("run_id", name=op.f("uq_schedule_failed_tasks_run_id")),
    )
    with op.batch_alter_table("schedule_failed_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_failed_tasks_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_schedule_failed_tasks_schedule_id"), ["schedule_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("schedule_failed_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_failed_tasks_schedule_id"))
        batch_op.drop_index(batch_op.f("ix_schedule_failed_tasks_created_at"))

    op.drop_table("schedule_failed_tasks")
    with op.batch_alter_table("schedule_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_deliveries_status_code"))
        batch_op.drop_index(batch_op.f("ix_schedule_deliveries_sent_at"))
        batch_op.drop_index(batch_op.f("ix_schedule_deliveries_schedule_id"))
        batch_op.drop_index(batch_op.f("ix_schedule_deliveries_run_id"))
        batch_op.drop_index(batch_op.f("ix_schedule_deliveries_outcome"))

    op.drop_table("schedule_deliveries")
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_runs_schedule_id"))

    op.drop_table("schedule_runs")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_updated_at"))
        batch_op.drop_index(batch_op.f("ix_schedules_next_send_at"))
        batch_op.drop_index(batch_op.f("ix_schedules_enabled"))
        batch_op.drop_index(batch_op.f("ix_schedules_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_schedules_created_at"))

    op.drop_table("schedules")
