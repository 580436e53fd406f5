"""Where JobRecord and TracksJob used to live: they are the jobs plumbing's (app/jobs/models.py).

Kept only so that code written against this path before issue 14 (the downloader's and datasources'
job code, some tests) keeps importing; new code imports ``app.jobs.models``. Remove this module once
nothing imports it (docs/development.md "Which package may import which").
"""

from app.jobs.models import LIVE, STATUSES, TERMINAL, TRACKERS, JobRecord, TracksJob, trackers

__all__ = ["LIVE", "STATUSES", "TERMINAL", "TRACKERS", "JobRecord", "TracksJob", "trackers"]
