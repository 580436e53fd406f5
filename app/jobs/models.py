"""JobRecord: the database side of every RQ job (owner, subject, result, last known state), and
``TracksJob``: the mixin of a domain row whose state follows one job (docs/jobs.md "Rows that track work").

A record moves ``queued`` → ``started`` → ``finished`` | ``failed`` | ``canceled`` (``scheduled`` is RQ's
word for queued later). Every move out of a live state is a compare-and-set (``begin``, ``settle``), so a
job, the web process and any number of reconcilers racing on one record change it once.
"""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.timeutil import utcnow

STATUSES = ("queued", "started", "finished", "failed", "canceled", "scheduled")
TERMINAL = ("finished", "failed", "canceled")
LIVE = ("queued", "started", "scheduled")


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
    def begin(cls, job_id):
        """Mark the record started; False when it was settled before the job ran (the job must not run)."""
        db.session.rollback()  # a failed job may have left the session mid-transaction
        moved = _move(job_id, ("queued", "scheduled"), status="started", started=utcnow())
        settled = not moved and db.session.scalar(db.select(cls.status).where(cls.id == job_id)) in TERMINAL
        db.session.commit()
        return not settled

    @classmethod
    def settle(cls, job_id, status, error=None, result=None):
        """Move a live record to a final ``status`` (not committed); True when this call moved it."""
        values = {"status": status, "ended": utcnow(), "error": error if status != "finished" else None}
        if result:
            values["result"] = result
        return _move(job_id, LIVE, **values)


def _move(job_id, from_statuses, **values):
    """Compare-and-set: update the record only while its status is one of ``from_statuses``."""
    stmt = (
        update(JobRecord)
        .where(JobRecord.id == job_id, JobRecord.status.in_(from_statuses))
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return db.session.execute(stmt).rowcount == 1


TRACKERS = {}  # JobRecord.kind -> the TracksJob model whose rows those jobs work for


class TracksJob:
    """A domain row whose state follows one job (a data source's processing, a step run, a download).

    A model sets ``job_kinds`` (the ``kind`` of its JobRecords), ``job_attr`` (its column holding the
    job id) and ``since_attr`` (when its current work began), and says what failed means for it:
    ``unfinished()`` (a SQL condition: still waiting for its job), ``failed_values(message)`` (the
    columns a failure sets) and optionally ``after_failed(ids)``. ``enqueue(..., tracker=row)``
    commits the row with its JobRecord; ``fail_tracking`` is how the enqueue failure path, a failing
    job and the reconciler (app/jobs/reconcile.py) fail it.
    """

    job_kinds = ()
    job_attr = "job_id"
    since_attr = "created"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for kind in cls.job_kinds:
            TRACKERS[kind] = cls

    @classmethod
    def unfinished(cls):
        raise NotImplementedError

    @classmethod
    def failed_values(cls, message):
        raise NotImplementedError

    @classmethod
    def after_failed(cls, ids):
        """Extra changes on rows just failed (not committed)."""

    def attach_job(self, job_id):
        setattr(self, self.job_attr, job_id)

    @classmethod
    def fail_tracking(cls, job_id, message, *, before=None):
        """Fail the unfinished rows of job ``job_id`` (or, with ``job_id`` None, those without a job whose
        work began before ``before``); a compare-and-set, so a row that moved on to another job, or that
        finished meanwhile, is left alone. Not committed; returns the ids failed."""
        column = getattr(cls, cls.job_attr)
        match = (
            column == job_id
            if job_id is not None
            else column.is_(None) & (getattr(cls, cls.since_attr) < before)
        )
        ids = list(
            db.session.scalars(
                update(cls)
                .where(match, cls.unfinished())
                .values(**cls.failed_values(message))
                .returning(cls.id)
                .execution_options(synchronize_session=False)
            )
        )
        if ids:
            cls.after_failed(ids)
        return ids


def trackers(kind=None):
    """The TracksJob model of a job ``kind`` (a list of one or none), or every tracking model."""
    if kind is None:
        return list(dict.fromkeys(TRACKERS.values()))
    return [TRACKERS[kind]] if kind in TRACKERS else []
