"""Schedule, ScheduleRun, DeliveryAttempt and FailedTask: the scheduler's persistent state.

- ``Schedule``: what to POST where and when. ``generation`` changes whenever the timing or
  the enabled flag changes, so a fire or delivery job armed for an older generation does
  nothing. ``auth_token`` and the signing secret are stored encrypted (app/keyring.py: a
  MultiFernet of every SECRET_KEY) because they must be sent later; neither is ever returned after creation.
- ``ScheduleRun``: one due run (schedule, slot), unique per pair — the database half of
  exactly-once. Its id is the ``Idempotency-Key`` sent with every attempt of that run.
- ``DeliveryAttempt``: every attempt to POST a run (status code, duration, excerpt, error).
- ``FailedTask``: a run whose last attempt failed; requeueing removes the record.
"""

import functools
import hashlib
import uuid
from datetime import datetime

from cryptography.fernet import InvalidToken
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    any_,
    literal,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import IDS_NEVER_REUSED, db
from app.keyring import keyring
from app.timeutil import utcnow

OUTCOMES = ("success", "retry", "failed", "canceled")
RUN_STATUSES = ("pending", "sending", "retrying", "sent", "failed", "canceled")
# failed_tasks.task_name: the job function whose tries ran out (rows written before the scheduler's jobs
# moved to app/resources/scheduler/ keep "app.jobs.scheduler.deliver")
FAILED_TASK_NAME = "app.resources.scheduler.delivery.deliver_batch"


def on_postgresql():
    return db.session.get_bind().dialect.name == "postgresql"


def in_values(column, values):
    """``column IN values``; on PostgreSQL ``= ANY(:array)``, one parameter however many values."""
    values = list(values)
    if on_postgresql():
        return column == any_(literal(values, postgresql.ARRAY(column.type)))
    return column.in_(values)


def derive_key(secret_key):
    """The scheduler's Fernet key from one SECRET_KEY (app/keyring.py)."""
    return hashlib.sha256(b"halyard-scheduler:" + secret_key).digest()


def encrypt(value):
    return None if value is None else keyring(derive_key).encrypt(value.encode()).decode()


def decrypt(value):
    if value is None:
        return None
    return _decrypt(keyring(derive_key), value)


@functools.lru_cache(maxsize=20000)
def _decrypt(fernet, value):
    """Cached per process: a delivery batch decrypts each schedule's token and secret every run."""
    try:
        return fernet.decrypt(value.encode()).decode()
    except InvalidToken:
        return None  # encrypted with a SECRET_KEY no longer configured: the stored secret is lost


class Schedule(db.Model):
    __tablename__ = "schedules"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    frequency: Mapped[int | None] = mapped_column(Integer)
    endpoint: Mapped[str] = mapped_column(String(2000))
    cron_definition: Mapped[str | None] = mapped_column(String(200))
    interval_definition: Mapped[str | None] = mapped_column(String(100))
    auth_token_encrypted: Mapped[str | None] = mapped_column(Text)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    payload: Mapped[object] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    anchor_at: Mapped[datetime] = mapped_column(DateTime)
    next_send_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_run: Mapped[datetime | None] = mapped_column(DateTime)
    triggered: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    created_by = relationship("Account", foreign_keys=[created_by_id])

    @property
    def auth_token(self):
        return decrypt(self.auth_token_encrypted)

    @auth_token.setter
    def auth_token(self, value):
        self.auth_token_encrypted = encrypt(value) if value else None

    @property
    def secret(self):
        return decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value):
        self.secret_encrypted = encrypt(value)


class ScheduleRun(db.Model):
    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "slot"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    slot: Mapped[datetime] = mapped_column(DateTime)
    generation: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sending_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the current attempt was claimed


class DeliveryAttempt(db.Model):
    __tablename__ = "schedule_deliveries"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_runs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer, index=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(20), index=True)


class FailedTask(db.Model):
    __tablename__ = "schedule_failed_tasks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedule_runs.id", ondelete="CASCADE"), unique=True)
    task_name: Mapped[str] = mapped_column(String(100), default=FAILED_TASK_NAME)
    attempts: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    schedule = relationship("Schedule")
