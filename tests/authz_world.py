"""One of every kind of resource, owned by one account, for the URL-map authorization test.

``build_world(client, make_account, token_for)`` returns a ``World``: ``owner``, ``outsider`` (a second
RESEARCHER who owns a data source, a run and a schedule of their own) and ``admin`` headers, and ``ids``,
the value of every URL variable of the app's rules, each naming one of the owner's resources. Rows that
need a worker to exist (a finished step run, a download, a delivery) are written directly, with real
stored files, so the owner can read every path of the map.
"""

import io
import uuid
from datetime import datetime

from app import storage
from app.extensions import db
from app.jobs.models import JobRecord
from app.resources.accounts.models import AuthRequest, Group
from app.resources.catalogue.models import CatalogueItem
from app.resources.datasources.models import DataSource, Project, Script, StepRun
from app.resources.downloader.models import DownloadRequest, waiters
from app.resources.scheduler.models import DeliveryAttempt, FailedTask, ScheduleRun

SCHEMA = {
    "title": "Thing",
    "type": "object",
    "properties": {"name": {"title": "Name", "type": "text"}},
    "required": ["name"],
}
CSV = b"a,b\n1,2\n"


def data(name="thing"):
    return {"name": {"_type": "text", "text": name}}


class World:
    """The accounts (headers) and the ids that fill every URL variable."""

    def __init__(self, owner, outsider, admin, owner_account, outsider_account):
        self.owner, self.outsider, self.admin = owner, outsider, admin
        self.owner_account, self.outsider_account = owner_account, outsider_account
        self.ids = {}


def _stored(content=CSV):
    return storage.save(io.BytesIO(content)).key


def _source(project, creator_id, name):
    source = DataSource(
        project=project,
        name=name,
        type="file",
        status="ready",
        creator_id=creator_id,
        file_key=_stored(),
        file_type="text/csv",
        table_key=_stored(b"PAR1"),
        preview_key=_stored(b'{"rows": []}'),
        items=1,
        fields=2,
        columns=[{"name": "a", "type": "BIGINT"}, {"name": "b", "type": "BIGINT"}],
    )
    db.session.add(source)
    return source


def finished_run(source, creator_id):
    run = StepRun(
        datasource=source,
        creator_id=creator_id,
        status="finished",
        steps=[{"key": "builtin:fill_nulls", "exec_order": 1, "status": "finished"}],
        result_key=_stored(),
        table_key=_stored(b"PAR1"),
        preview_key=_stored(b'{"rows": []}'),
        items=1,
        fields=2,
        columns=[{"name": "a", "type": "BIGINT"}],
    )
    db.session.add(run)
    return run


def _schedule(client, headers):
    body = {"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours", "payload": {"a": 1}}
    r = client.post("/api/v1/schedule/", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    sid = uuid.UUID(r.get_json()["id"])
    run = ScheduleRun(schedule_id=sid, slot=datetime(2026, 1, 1), generation=0, status="failed", attempts=1)
    db.session.add(run)
    db.session.flush()
    delivery = DeliveryAttempt(
        schedule_id=sid,
        run_id=run.id,
        attempt=1,
        due_at=datetime(2026, 1, 1),
        sent_at=datetime(2026, 1, 1),
        status_code=500,
        outcome="failed",
    )
    task = FailedTask(schedule_id=sid, run_id=run.id, attempts=1, reason="HTTP 500")
    db.session.add_all([delivery, task])
    db.session.commit()
    return sid, delivery.id, task.id


def _created(response, key):
    assert response.status_code == 201, response.get_json()
    return response.get_json()[key]


def build_world(client, make_account, token_for):
    owner_account, outsider_account = make_account(), make_account()
    admin_account = make_account(type="ADMIN")
    world = World(
        token_for(owner_account),
        token_for(outsider_account),
        token_for(admin_account),
        owner_account,
        outsider_account,
    )
    ids, owner = world.ids, world.owner
    ids["user_id"] = owner_account.id
    token, _ = owner_account.issue_token(name="second")

    group = Group(name="lab", members=[owner_account])
    auth_request = AuthRequest(uuid=str(uuid.uuid4()))
    db.session.add_all([group, auth_request])
    db.session.commit()
    ids["group_id"], ids["request_uuid"], ids["token_id"] = group.id, auth_request.uuid, token.id

    action = _created(
        client.post(
            "/api/v1/actions/", json={"type": "sample", "name": "A", "schema": SCHEMA}, headers=owner
        ),
        "action_id",
    )
    ids["action_id"] = action
    ids["object_id"] = _created(
        client.post("/api/v1/objects/", json={"action_id": action, "data": data()}, headers=owner),
        "object_id",
    )
    ids["version_id"] = 0

    project = Project(title="P", owner_id=owner_account.id)
    db.session.add(project)
    source = _source(project, owner_account.id, "mine")
    sibling = _source(project, owner_account.id, "sibling")  # the owner's second source: no run of its own
    run = finished_run(source, owner_account.id)
    script = Script(
        datasource_id=None,
        name="clean",
        body_key=_stored(b"def run(t):\n    return t\n"),
        size=24,
        creator_id=owner_account.id,
    )
    theirs = Project(title="Q", owner_id=outsider_account.id)
    their_run = finished_run(_source(theirs, outsider_account.id, "theirs"), outsider_account.id)
    db.session.add(theirs)
    db.session.flush()
    script.datasource_id = source.id
    db.session.add(script)
    db.session.commit()
    ids.update(
        project_id=project.id,
        source_id=source.id,
        run_id=run.id,
        key="upload:clean",
        sibling_id=sibling.id,
        their_source_id=their_run.datasource_id,
        their_run_id=their_run.id,
    )

    ids["schedule_id"], ids["delivery_id"], ids["task_id"] = _schedule(client, owner)
    ids["their_schedule_id"], ids["their_delivery_id"], ids["their_task_id"] = _schedule(
        client, world.outsider
    )

    item = CatalogueItem(
        name="products",
        executor_type="DATABRICKS",
        spec=[{"name": "product", "type": "STRING", "is_nullable": True, "size": None, "distribution": None}],
    )
    item.set_sample([])
    db.session.add(item)
    db.session.flush()
    download = DownloadRequest(
        catalogue_item_id=item.id,
        created_by_id=owner_account.id,
        spec={},
        format="csv",
        dedupe_key="k" * 64,
        seed=1,
        status="finished",
        progress=1.0,
        file_key=_stored(),
        real_size=len(CSV),
        rows=1,
        finished=datetime(2026, 1, 1),
    )
    job = JobRecord(id=str(uuid.uuid4()), kind="probe", owner_id=owner_account.id, status="finished")
    db.session.add_all([download, job])
    db.session.flush()
    db.session.execute(waiters.insert().values(request_id=download.id, account_id=owner_account.id))
    db.session.commit()
    ids.update(item_id=item.id, request_id=download.id, job_id=job.id)

    r = client.post("/datamanager/", json={"title": "Space", "description": "d"}, headers=owner)
    space = r.get_json()
    ids["dm_id"] = space["dataManagerID"]
    upload = client.post(
        space["_links"]["ec:assets"]["href"],
        headers=owner,
        content_type="multipart/form-data",
        data={"file": [(io.BytesIO(png()), "pic.png", "image/png")]},
    )
    assert upload.status_code == 201, upload.get_json()
    asset = client.get(upload.headers["Location"], headers=owner).get_json()
    ids["asset_id"], ids["account_id"] = asset["assetID"], owner_account.id
    ids["file_id"] = asset["files"][0]["url"].rsplit("/", 1)[1]
    upload = client.post(
        space["_links"]["ec:assets"]["href"],
        headers=owner,
        content_type="multipart/form-data",
        data={"file": [(io.BytesIO(png()), "gone.png", "image/png")]},
    )
    gone = client.get(upload.headers["Location"], headers=owner).get_json()
    assert client.delete(gone["_links"]["self"]["href"], headers=owner).status_code == 204
    ids["gone_id"] = gone["assetID"]
    return world


def png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (3, 2), "red").save(out, "PNG")
    return out.getvalue()
