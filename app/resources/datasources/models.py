"""Projects (with members) and their data sources, uploaded scripts and step jobs."""

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import IDS_NEVER_REUSED, db
from app.jobs.models import TracksJob
from app.timeutil import utcnow

ROLES = ("editor", "viewer")
TYPES = ("file", "database", "api", "external")
STATUSES = ("processing", "ready", "error")
RUN_STATUSES = ("queued", "running", "finished", "failed")  # a step job's run


class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    owner = relationship("Account")
    members: Mapped[list["ProjectMember"]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectMember.account_id"
    )
    datasources: Mapped[list["DataSource"]] = relationship(back_populates="project", passive_deletes=True)

    def role_of(self, account):
        """``owner``, ``editor``, ``viewer`` or None; ADMINs act as owners."""
        if account is None:
            return None
        if account.is_admin or account.id == self.owner_id:
            return "owner"
        return next((m.role for m in self.members if m.account_id == account.id), None)

    def can_edit_sources(self, account):
        return self.role_of(account) in ("owner", "editor")

    @staticmethod
    def visible_ids(account):
        """A SELECT of the project ids ``account`` may read (owner, member; ADMIN: all)."""
        stmt = select(Project.id)
        if account.is_admin:
            return stmt
        member = select(ProjectMember.project_id).where(ProjectMember.account_id == account.id)
        return stmt.where(or_(Project.owner_id == account.id, Project.id.in_(member)))


class ProjectMember(db.Model):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="viewer")

    project: Mapped[Project] = relationship(back_populates="members")
    account = relationship("Account")


class DataSource(db.Model, TracksJob):
    __tablename__ = "datasources"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_datasources_project_name"),
        IDS_NEVER_REUSED,
    )
    job_kinds = ("datasource-process",)
    since_attr = "updated"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="processing", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # the stored original (upload or fetched response), the Parquet table and the JSON preview
    file_key: Mapped[str | None] = mapped_column(String(64))
    file_type: Mapped[str | None] = mapped_column(String(100))
    table_key: Mapped[str | None] = mapped_column(String(64))
    preview_key: Mapped[str | None] = mapped_column(String(64))
    items: Mapped[int | None] = mapped_column(Integer)
    fields: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[list | None] = mapped_column(JSON)
    problems: Mapped[dict | None] = mapped_column(JSON)
    # database type: the encrypted URL or a configured name; api type: the URL; external: the data
    # set's s3:// or file:// URL (lake.py)
    connection_secret: Mapped[str | None] = mapped_column(Text)
    connection_ref: Mapped[str | None] = mapped_column(String(100))
    query: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    project: Mapped[Project] = relationship(back_populates="datasources")
    scripts: Mapped[list["Script"]] = relationship(
        back_populates="datasource", cascade="all, delete-orphan", order_by="Script.name"
    )
    runs: Mapped[list["StepRun"]] = relationship(back_populates="datasource", cascade="all, delete-orphan")

    def stored_keys(self):
        return [k for k in (self.file_key, self.table_key, self.preview_key) if k]

    @classmethod
    def unfinished(cls):
        return cls.status == "processing"

    @classmethod
    def failed_values(cls, message):
        return {"status": "error", "error": message}


class Script(db.Model):
    __tablename__ = "datasource_scripts"
    __table_args__ = (
        UniqueConstraint("datasource_id", "name", name="uq_datasource_scripts_name"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    datasource_id: Mapped[int] = mapped_column(ForeignKey("datasources.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    body_key: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    datasource: Mapped[DataSource] = relationship(back_populates="scripts")

    @property
    def key(self):
        return f"upload:{self.name}"


class StepRun(db.Model, TracksJob):
    """One ``POST /datasources/{id}/job``: its steps, their outcome and the result table."""

    __tablename__ = "datasource_jobs"
    __table_args__ = IDS_NEVER_REUSED
    job_kinds = ("datasource-steps",)

    id: Mapped[int] = mapped_column(primary_key=True)
    datasource_id: Mapped[int] = mapped_column(ForeignKey("datasources.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[list] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    result_key: Mapped[str | None] = mapped_column(String(64))
    table_key: Mapped[str | None] = mapped_column(String(64))
    preview_key: Mapped[str | None] = mapped_column(String(64))
    items: Mapped[int | None] = mapped_column(Integer)
    fields: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[list | None] = mapped_column(JSON)

    datasource: Mapped[DataSource] = relationship(back_populates="runs")
    job = relationship("JobRecord")

    def stored_keys(self):
        return [k for k in (self.result_key, self.table_key, self.preview_key) if k]

    @classmethod
    def unfinished(cls):
        return cls.status.in_(("queued", "running"))

    @classmethod
    def failed_values(cls, message):
        return {"status": "failed", "error": message}

    @classmethod
    def after_failed(cls, ids):
        for run in db.session.scalars(select(cls).where(cls.id.in_(ids))):
            run.steps = close_steps(run.steps)


def close_steps(steps):
    """The steps of a run that failed: the running one failed, those never started skipped (a new list)."""
    closed = []
    for step in steps:
        status = step.get("status")
        if status in (None, "pending", "running"):
            step = dict(step, status="failed" if status == "running" else "skipped")
        closed.append(step)
    return closed
