"""The catalogue's job: ``compute_spec_job`` profiles a table too large to profile in the web request
(``profile.inline`` decides; ``POST …/compute-spec`` answers 202 with the job)."""

from app.extensions import db
from app.jobs import JobError, produced, report_progress
from app.resources.catalogue.models import CatalogueItem
from app.resources.catalogue.profile import CannotProfile, profile_item


def compute_spec_job(item_id, account_id):
    """RQ job: profile a large table; the item gets its spec and sample (the job's result links it)."""
    item = db.session.get(CatalogueItem, item_id)
    if item is None:
        raise JobError("The catalogue item was deleted.")
    report_progress(0.1, "profiling the table")
    try:
        spec, sample = profile_item(item)
    except CannotProfile as exc:
        raise JobError(exc.description) from None
    item.spec = spec
    item.set_sample(sample)
    item.updated_by_id = account_id
    db.session.commit()
    produced(f"/catalogue/items/{item_id}")
    return {"columns": len(spec)}
