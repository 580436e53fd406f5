"""JobRecord: the database side of every RQ job (owner, subject, result, last known state)."""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.timeutil import utcnow

STATUSES = ("queued", "started", "finished", "failed", "canceled", "scheduled")
TERMINAL = ("finished", "failed", "canceled")


class JobRecord(db.Model):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[str | None] = mapped_column(String(500))
    queue: Mapped[str] = mapped_column(String(50), default="default")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started: Mapped[datetime | None] = mapped_column(DateTime)
    ended: Mapped[datetime | None] = mapped_column(DateTime)

    owner = relationship("Account")

    @classmethod
    def mirror(cls, job, *, status, error=None):
        """Copy a running job's state into its row (called by AppJob in the worker)."""
        db.session.rollback()  # a failed job may have left the session mid-transaction
        record = db.session.get(cls, job.id)
        if record is None:
            return
        record.status = status
        if status == "started":
            record.started = utcnow()
        else:
            record.ended = utcnow()
            record.result = job.meta.get("result_path", record.result)
            record.error = error
        db.session.commit()
