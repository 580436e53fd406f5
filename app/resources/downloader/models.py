"""DownloadRequest and its waiters: one extraction of a catalogue item's data, shared by equal requests."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import IDS_NEVER_REUSED, db
from app.jobs.models import TracksJob
from app.timeutil import utcnow

STATUSES = ("queued", "running", "finished", "failed", "cancelled")
FORMATS = ("csv", "parquet")

waiters = Table(
    "download_request_waiters",
    db.metadata,
    Column("request_id", ForeignKey("download_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class DownloadRequest(db.Model, TracksJob):
    __tablename__ = "download_requests"
    __table_args__ = IDS_NEVER_REUSED
    job_kinds = ("download",)
    job_attr = "executor_job_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    catalogue_item_id: Mapped[int] = mapped_column(
        ForeignKey("catalogue_items.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    spec: Mapped[dict] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(10), default="csv")
    # sha256 of the normalised (item, spec, format); ``live_key`` holds it only while the request is
    # live (not cancelled, not failed), and its unique index makes concurrent equal POSTs join one request.
    dedupe_key: Mapped[str] = mapped_column(String(64), index=True)
    live_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    executor_job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    estimated_size: Mapped[int | None] = mapped_column(BigInteger)
    real_size: Mapped[int | None] = mapped_column(BigInteger)
    rows: Mapped[int | None] = mapped_column(Integer)
    file_key: Mapped[str | None] = mapped_column(String(64))
    data_version: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    finished: Mapped[datetime | None] = mapped_column(DateTime)

    catalogue_item = relationship("CatalogueItem")
    created_by = relationship("Account")
    waiting = relationship("Account", secondary=waiters)

    def fail(self, message):
        for name, value in self.failed_values(message).items():
            setattr(self, name, value)

    @classmethod
    def failed_values(cls, message):
        """A failed request leaves deduplication (``live_key``): an equal request starts afresh."""
        return {"status": "failed", "error": message, "live_key": None}

    @classmethod
    def unfinished(cls):
        return cls.status.in_(("queued", "running")) & cls.is_cancelled.is_(False)

    def cancel(self):
        self.is_cancelled, self.live_key = True, None
        if self.status in ("queued", "running"):
            self.status = "cancelled"
