"""The web request never scans a large table: compute_spec and …/estimate/ on both sides of their
thresholds (HALYARD_CATALOGUE_PROFILE_INLINE_ROWS, HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS), and items bound to
an ``external`` data set (profiled by a job, estimated from metadata)."""

import duckdb
import pytest
from catalogue_data import PRODUCTS_SQL

from app.extensions import db
from app.resources.catalogue.models import CatalogueItem
from app.resources.datasources.models import DataSource, Project


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory):
    """A Hive-partitioned folder of 2 × 600 product rows."""
    root = tmp_path_factory.mktemp("lake")
    for part in (1, 2):
        folder = root / "products" / f"part={part}"
        folder.mkdir(parents=True)
        con = duckdb.connect()
        con.execute(f"COPY ({PRODUCTS_SQL.format(rows=600)}) TO '{folder / 'data.parquet'}' (FORMAT parquet)")
        con.close()
    return root


@pytest.fixture
def config_overrides(lake_root):
    return {"HALYARD_DATASOURCE_EXTERNAL_LOCATIONS": [f"file://{lake_root}/"]}


@pytest.fixture
def people(make_account, token_for):
    """A researcher and an ADMIN with their headers."""
    return [(a, token_for(a)) for a in (make_account(), make_account(), make_account(type="ADMIN"))]


def compute(client, item, admin):
    return client.post(f"/catalogue/items/{item.id}/compute_spec/", headers=admin)


def estimate(client, item, headers, columns=("id", "category"), filters=()):
    body = {
        "catalogue_item_id": item.id,
        "spec": {"columns": list(columns), "filters": list(filters), "randomize_ratio": 0.5},
    }
    response = client.post("/downloader/requests/estimate/", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def finished_job(client, response, admin, run_jobs):
    assert response.status_code == 202 and response.headers["Location"].endswith(response.get_json()["id"])
    run_jobs()
    job = client.get(response.headers["Location"], headers=admin).get_json()
    assert job["status"] == "finished", job
    return job


def test_compute_spec_inline_at_the_threshold_and_a_job_past_it(app, client, bound_item, people, run_jobs):
    admin = people[2][1]
    app.config["HALYARD_CATALOGUE_PROFILE_INLINE_ROWS"] = 500
    at = bound_item(rows=500)
    inline = compute(client, at, admin)
    assert inline.status_code == 200 and inline.get_json()["@event"] == "CATALOGUEITEM_SPEC_COMPUTED"
    past = bound_item(rows=501)
    before = db.session.get(CatalogueItem, past.id).spec
    response = compute(client, past, admin)
    db.session.expire_all()
    assert db.session.get(CatalogueItem, past.id).spec == before  # the request computed nothing
    job = finished_job(client, response, admin, run_jobs)
    assert job["kind"] == "catalogue-compute-spec" and job["_links"]["ec:job/result"]["href"].endswith(
        f"/catalogue/items/{past.id}"
    )
    db.session.expire_all()
    spec = {c["name"]: c for c in db.session.get(CatalogueItem, past.id).spec}
    assert spec["id"]["size"] == 501 and spec["category"]["is_enum"] is True


def test_estimate_exact_at_the_threshold_and_from_metadata_past_it(app, client, bound_item, people):
    app.config["HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS"] = 800
    headers = people[0][1]
    flt = [{"name": "category", "operator": "=", "value": "cat_1"}]
    at = estimate(client, bound_item(rows=800), headers, filters=flt)
    assert at["basis"] == "data" and at["estimated_rows"] == 50  # 800 / 8 categories × 0.5, counted
    past_item = bound_item(rows=801)
    # storage holds a table of other rows than the source says: only the metadata may be read
    source = db.session.get(DataSource, past_item.datasource_id)
    source.items = 8_000_000
    db.session.commit()
    past = estimate(client, past_item, headers, filters=flt)
    assert past["basis"] == "metadata"
    assert past["estimated_rows"] == 500_000  # 8,000,000 × 1/8 (the spec's distribution) × 0.5


def external_item(make_item, make_account, lake_root, status="ready", items=1200):
    owner = make_account(type="ADMIN")
    project = Project(title="lake", owner_id=owner.id)
    source = DataSource(
        project=project,
        name="products",
        type="external",
        url=f"file://{lake_root}/products/",
        status=status,
        items=items,
        fields=7,
        columns=[
            {"name": n, "type": t}
            for n, t in (
                ("id", "INTEGER"),
                ("category", "VARCHAR"),
                ("price", "DOUBLE"),
                ("available", "BOOLEAN"),
                ("created", "TIMESTAMP"),
                ("note", "VARCHAR"),
                ("part", "BIGINT"),
            )
        ],
    )
    db.session.add_all([project, source])
    db.session.commit()
    spec = [
        {"name": "id", "type": "INTEGER", "is_nullable": False, "size": items, "distribution": None},
        {
            "name": "category",
            "type": "STRING",
            "is_nullable": False,
            "size": items,
            "is_enum": True,
            "distribution": [{"value": f"cat_{i}", "count": items // 8} for i in range(8)],
        },
    ]
    return make_item(executor_type="LOCAL", datasource_id=source.id, spec=spec)


def test_an_external_item_is_always_profiled_by_a_job(
    app, client, make_item, make_account, people, lake_root, run_jobs
):
    admin = people[2][1]
    item = external_item(make_item, make_account, lake_root)
    assert item.datasource.items < app.config["HALYARD_CATALOGUE_PROFILE_INLINE_ROWS"]
    job = finished_job(client, compute(client, item, admin), admin, run_jobs)
    assert job["kind"] == "catalogue-compute-spec"
    db.session.expire_all()
    item = db.session.get(CatalogueItem, item.id)
    spec = {c["name"]: c for c in item.spec}
    assert spec["id"]["size"] == 1200 and spec["id"]["type"] == "INTEGER"
    assert spec["part"]["distribution"] == [{"value": 1, "count": 600}, {"value": 2, "count": 600}]
    assert len(item.sample) == 5


def test_an_external_item_whose_location_is_no_longer_allowed_fails_its_job(
    app, client, make_item, make_account, people, lake_root, run_jobs
):
    admin = people[2][1]
    item = external_item(make_item, make_account, lake_root)
    spec = list(item.spec)
    app.config["HALYARD_DATASOURCE_EXTERNAL_LOCATIONS"] = []
    response = compute(client, item, admin)
    assert response.status_code == 202
    run_jobs()
    job = client.get(response.headers["Location"], headers=admin).get_json()
    assert job["status"] == "failed" and "not under a location" in job["error"]
    db.session.expire_all()
    assert db.session.get(CatalogueItem, item.id).spec == spec


def test_an_external_item_is_estimated_from_metadata(client, make_item, make_account, people, lake_root):
    item = external_item(make_item, make_account, lake_root, items=1200)
    body = estimate(
        client, item, people[0][1], filters=[{"name": "category", "operator": "=", "value": "cat_2"}]
    )
    assert body["basis"] == "metadata" and body["estimated_rows"] == 1200 // 8 // 2
