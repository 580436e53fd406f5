"""Seed every collection reachable from ``GET /`` with at least ``PER`` items (two pages of ``PAGE_SIZE``).

Most rows are created through the API over real HTTP (the same POSTs a client sends); the few that only
a worker or a remote endpoint can produce (schedule deliveries and failed tasks, data-source step runs)
are inserted as rows, the way the scheduler and the step runner write them.
"""

import io
import uuid
from datetime import datetime, timedelta

import requests

from app.extensions import db

PAGE_SIZE = 2
PER = 3  # > PAGE_SIZE: every collection has at least two pages

SCHEMA = {
    "title": "Walk",
    "type": "object",
    "properties": {"name": {"title": "Name", "type": "text"}},
    "required": ["name"],
}
SPEC = [
    {"distribution": None, "is_nullable": True, "name": "product", "size": None, "type": "STRING"},
    {"distribution": None, "is_nullable": False, "name": "price", "size": None, "type": "INTEGER"},
]
# Query values for templated entry links whose variables a walker cannot guess (catalogue: words required).
TEMPLATE_VALUES = {"query": "walk"}


class Seeder:
    def __init__(self, live, make_account):
        self.live, self.make_account = live, make_account
        self.s = requests.Session()
        self.s.headers.update(live.auth)
        self.s.headers["Accept"] = "application/hal+json"  # seed paths answer seed-native JSON for */*

    def post(self, path, status=(201, 202), **kwargs):
        r = self.s.post(self.live.base + path, timeout=10, **kwargs)
        assert r.status_code in ((status,) if isinstance(status, int) else status), (
            path,
            r.status_code,
            r.text[:500],
        )
        return r.json() if r.content else {}

    def put(self, path, **kwargs):
        r = self.s.put(self.live.base + path, timeout=10, **kwargs)
        assert r.status_code in (200, 201, 204), (path, r.status_code, r.text[:500])

    def first(self, path):
        """The first embedded item of a collection, as a walker sees it (the default sort decides)."""
        r = self.s.get(self.live.base + path, timeout=10)
        assert r.status_code == 200, (path, r.text[:500])
        return next(iter(r.json()["_embedded"].values()))[0]

    def delete(self, path):
        r = self.s.delete(self.live.base + path, timeout=10)
        assert r.status_code in (200, 202, 204), (path, r.status_code, r.text[:500])


def seed(live, make_account):
    """Create PER items in every collection (top-level and nested); returns what the walker needs to know."""
    from app.resources.accounts.models import Account
    from app.resources.datasources.models import StepRun
    from app.resources.scheduler.models import DeliveryAttempt, FailedTask, ScheduleRun

    api = Seeder(live, make_account)
    admin = db.session.query(Account).filter_by(email=live.email).one()
    people = [make_account() for _ in range(PER)]

    # accounts: users (admin + PER), the admin's tokens, groups the admin belongs to
    for n in range(PER):
        api.post(f"/api/v1/user/{admin.id}/tokens/", json={"name": f"walk-{n}"})
    groups = [api.post("/api/v1/group/", json={"name": f"walk-group-{n}"}) for n in range(PER)]
    group = api.first("/api/v1/group/")
    for person in people:
        api.post(f"/api/v1/group/{group['id']}/members/", json={"user_id": person.id}, status=(200, 201, 204))

    # objects: actions, objects, versions of the first object, its user and group permissions
    actions = [
        api.post("/api/v1/actions/", json={"type": "sample", "name": f"walk-{n}", "schema": SCHEMA})
        for n in range(PER)
    ]
    for n in range(PER):
        api.post(
            "/api/v1/objects/",
            json={
                "action_id": actions[0]["action_id"],
                "data": {"name": {"_type": "text", "text": f"walk {n}"}},
            },
        )
    first = api.first("/api/v1/objects/")["object_id"]
    for n in range(PER):
        api.post(
            f"/api/v1/objects/{first}/versions/",
            json={"data": {"name": {"_type": "text", "text": f"walk v{n + 1}"}}},
        )
    for person in people:
        api.put(f"/api/v1/objects/{first}/permissions/users/{person.id}", json="read")
    for group in groups:
        api.put(f"/api/v1/objects/{first}/permissions/groups/{group['id']}", json="read")

    # datamanager: spaces, members of the first, assets and deleted assets
    for n in range(PER):
        api.post("/datamanager/", json={"title": f"walk-{n}"})
    dm = api.first("/datamanager/")["dataManagerID"]
    for person in people:
        api.post(f"/datamanager/{dm}/members/", json={"accountID": person.id, "rights": ["editAssets"]})
    files = [("file", (f"walk-{n}.txt", io.BytesIO(b"walk %d" % n), "text/plain")) for n in range(2 * PER)]
    uploaded = api.s.post(f"{live.base}/datamanager/{dm}/assets/", files=files, timeout=20)
    assert uploaded.status_code == 201, uploaded.text[:500]
    for link in uploaded.json()["_links"]["ec:asset"][PER:]:
        api.delete(link["href"].replace(live.base, ""))

    # datasources: projects, data sources of the first project, scripts and step runs of the first source
    for n in range(PER):
        api.post("/api/v1/projects/", json={"title": f"walk-{n}"})
    sources = []
    for n in range(PER):
        r = api.s.post(
            f"{live.base}/api/v1/datasources",
            timeout=20,
            data={"name": f"walk-{n}", "project": str(api.first("/api/v1/projects/")["id"]), "type": "file"},
            files={"file": (f"walk{n}.csv", io.BytesIO(b"a,b\n1,2\n"), "text/csv")},
        )
        assert r.status_code in (201, 202), r.text[:500]
        sources.append(r.json())
    source_id = api.first("/api/v1/datasources")["id"]
    for n in range(PER):
        api.s.post(
            f"{live.base}/api/v1/datasources/{source_id}/script-upload",
            timeout=10,
            files={"script": (f"step_{n}.py", io.BytesIO(b"def run(df):\n    return df\n"), "text/x-python")},
        ).raise_for_status()
    db.session.add_all(
        StepRun(
            datasource_id=source_id,
            creator_id=admin.id,
            status="finished",
            steps=[{"key": "step_0", "exec_order": 0, "status": "done"}],
        )
        for _ in range(PER)
    )

    # scheduler: schedules, deliveries of the first, failed tasks
    for n in range(PER):
        api.post(
            "/api/v1/schedule/",
            json={"endpoint": "http://127.0.0.1:9/walk", "interval_definition": f"{n + 1} hours"},
        )
    sid = uuid.UUID(api.first("/api/v1/schedule/")["id"])
    for n in range(PER):
        run = ScheduleRun(
            schedule_id=sid,
            slot=datetime(2026, 1, 1) + timedelta(hours=n),
            generation=0,
            status="failed",
            attempts=1,
        )
        db.session.add(run)
        db.session.flush()
        db.session.add(
            DeliveryAttempt(
                schedule_id=sid, run_id=run.id, attempt=1, due_at=run.slot, status_code=500, outcome="failed"
            )
        )
        db.session.add(FailedTask(schedule_id=sid, run_id=run.id, attempts=1, reason="HTTP 500"))
    db.session.commit()

    # catalogue and downloader: items matching TEMPLATE_VALUES["query"], requests for the first
    items = [
        api.post(
            "/catalogue/items/", json={"name": f"walk_item_{n}", "executor_type": "DATABRICKS", "spec": SPEC}
        )
        for n in range(PER)
    ]
    for n in range(PER):
        api.post(
            "/downloader/requests/",
            json={
                "catalogue_item_id": api.first("/catalogue/items/?query=walk")["id"],
                "format": "csv",
                "spec": {
                    "columns": ["product", "price"][: 1 + n % 2],
                    "filters": [],
                    "randomize_ratio": 0.1 * (n + 1),
                },
            },
        )

    # jobs: probes (the uploads and downloads above enqueued some too)
    for _ in range(PER):
        api.post("/api/health/probe", json={"steps": 1})
    return {"catalogue_item": items[0]["id"], "action": actions[0]["action_id"]}
