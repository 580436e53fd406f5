"""CatalogueItem: a described data set (seed 000), optionally bound to a data source's table."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import IDS_NEVER_REUSED, db
from app.timeutil import utcnow

EXECUTOR_TYPES = ("DATABRICKS", "ATHENA", "LOCAL")


class CatalogueItem(db.Model):
    __tablename__ = "catalogue_items"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    executor_type: Mapped[str] = mapped_column(String(20), index=True)
    spec: Mapped[list] = mapped_column(JSON, default=list)
    sample: Mapped[list] = mapped_column(JSON, default=list)
    # Denormalised from ``sample`` so ``has_samples`` filters in SQL with an index.
    has_samples: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    maintained_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    # The data source whose table the item describes (LOCAL downloads read it); null when unbound.
    datasource_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasources.id", ondelete="SET NULL"), index=True
    )
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, index=True)

    created_by = relationship("Account", foreign_keys=[created_by_id])
    updated_by = relationship("Account", foreign_keys=[updated_by_id])
    maintained_by = relationship("Account", foreign_keys=[maintained_by_id])
    datasource = relationship("DataSource")

    def set_sample(self, rows):
        self.sample = list(rows)
        self.has_samples = bool(self.sample)

    def column(self, name):
        """The spec entry of column ``name``, or None."""
        return next((c for c in self.spec or [] if c.get("name") == name), None)

    def __repr__(self):
        return f"<CatalogueItem {self.id} {self.name}>"
