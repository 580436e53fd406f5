"""Seed 004 (entrecode Data Manager API) checked against its document, which is a HAL API by nature.

The document has no example requests; it defines resources by tables. They are parsed here: for each
resource (``ec:datamanagers``, ``ec:datamanager``, ``ec:assets``, ``ec:asset``, ``ec:asset/file``,
``ec:assets/deleted``, ``ec:asset/deleted``) its "Links" relations and its "Properties" names, and every
one is checked on a live resource, reached from ``GET /`` by links only. Every documented method is sent
and answers with the documented status (POST 201, PUT 200, POST ec:asset 200, DELETE 204, DELETE a
deleted asset 200 with the asset or, with ``?destroy=destroy``, 204). So are the generic list rules
(``page``/``size`` defaults 1 and 10, ``prev``/``next``/``first`` only where they apply, ``sort``,
exact/``~=``/``From``/``To`` filters, an id filter giving the item itself).

Seed 004 answers HAL for every ``Accept`` (application/json, ``*/*`` or none: a client of its document
sends any of them), so the walk runs once per ``Accept``.
"""

import io
import re

import pytest

from app.hal import expand
from tests.seeds.seed_support import document

DOC = document("004")
HAL = "application/hal+json"
# rels the document returns only on some pages ("this link is not returned ...")
CONDITIONAL = {"next", "prev", "first"}


def resources(doc):
    """{resource: (documented rels, documented properties)} from the document's tables."""
    heading = re.compile(r"^#{3,4} .*?(ec:[\w/]+)\]?.*$", re.M)
    marks = list(heading.finditer(doc))
    out = {}
    for i, mark in enumerate(marks):
        if re.match(r"#### (POST|PUT|DELETE) ", mark.group(0)):
            continue
        text = doc[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(doc)]
        if "##### " in text:  # ec:models is "tbd": no tables
            out[mark.group(1)] = (table(text, "Links"), table(text, "Properties"))
    return out


def table(text, title):
    """The first column of the ``##### title`` table of ``text`` (empty when it has none)."""
    m = re.search(rf"##### {title}\n\|.*\n\|[-| ]+\n((?:\|.*\n?)+)", text)
    return [row.split("|")[1].strip() for row in m.group(1).strip().split("\n")] if m else []


RESOURCES = resources(DOC)


def test_the_document_is_parsed():
    assert sorted(RESOURCES) == sorted(
        [
            "ec:datamanagers",
            "ec:datamanager",
            "ec:assets",
            "ec:asset",
            "ec:asset/file",
            "ec:assets/deleted",
            "ec:asset/deleted",
        ]
    )
    assert RESOURCES["ec:asset/deleted"][1] == [
        "assetID",
        "title",
        "type",
        "created",
        "deleted",
        "tags",
        "file",
    ]
    assert "ec:datamanager/by-id" in RESOURCES["ec:datamanagers"][0]


def check(resource, body, embedded=False):
    """``body`` carries every relation (but the conditional ones) and property the document lists; an
    embedded resource shares the ``curies`` of the document it is in (HAL)."""
    rels, properties = RESOURCES[resource]
    for rel in rels:
        if rel not in CONDITIONAL and not (embedded and rel == "curies"):
            assert rel in body["_links"], (resource, rel, sorted(body["_links"]))
    for name in properties:
        assert name in body, (resource, name, sorted(body))
    if "curies" in rels and not embedded:
        (curie,) = body["_links"]["curies"]
        assert curie["name"] == "ec" and curie["templated"] is True


class Client:
    """A seed 004 client: one ``Accept`` (or none) on every request, links followed as given."""

    def __init__(self, client, headers, accept):
        self.client = client
        self.headers = dict(headers, **({"Accept": accept} if accept else {}))

    def send(self, method, href, status, **kwargs):
        response = self.client.open(href, method=method, headers=self.headers, **kwargs)
        assert response.status_code == status, (method, href, response.get_data(as_text=True)[:300])
        if status != 204:  # HAL, named application/json when that is what the client asked for
            assert response.mimetype in (HAL, "application/json", "application/problem+json")
            if response.mimetype != "application/problem+json" and response.get_json() != {}:
                assert "_links" in response.get_json()
            if self.headers.get("Accept") in (None, "*/*"):
                assert response.mimetype != "application/json"
        return response

    def get(self, href, status=200):
        return self.send("GET", href, status).get_json()

    def upload(self, href, status, *names):
        files = [(io.BytesIO(png()), name, "image/png") for name in names]
        return self.send("POST", href, status, data={"file": files}, content_type="multipart/form-data")


def png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def config_overrides(tmp_path):
    return {"HALYARD_STORAGE_ROOT": str(tmp_path / "files")}


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", HAL])
def test_every_documented_resource_link_property_and_method(seed_client, user_headers, accept):
    c = Client(seed_client, user_headers, accept)
    root = c.get("/")
    managers_href = root["_links"]["ec:datamanagers"]["href"]

    created = c.send("POST", managers_href, 201, json={"title": "Space", "description": "A space"})
    manager = created.get_json()  # "The response is the new ec:datamanager resource."
    assert created.headers["Location"] == manager["_links"]["self"]["href"]
    check("ec:datamanager", manager)
    assert manager["title"] == "Space" and manager["description"] == "A space"
    assert set(manager["rights"]) <= {"manageRights", "editModel", "editEntries", "editAssets", "manageAPIs"}
    managers = c.get(managers_href)
    check("ec:datamanagers", managers)
    assert managers["count"] == managers["total"] == 1
    assert managers["_embedded"]["ec:datamanager"][0]["dataManagerID"] == manager["dataManagerID"]
    by_id = expand(managers["_links"]["ec:datamanager/by-id"]["href"], dataManagerID=manager["dataManagerID"])
    assert c.get(by_id)["dataManagerID"] == manager["dataManagerID"]
    updated = c.send("PUT", manager["_links"]["self"]["href"], 200, json={"title": "Renamed"}).get_json()
    assert updated["title"] == "Renamed"

    assets_href = manager["_links"]["ec:assets"]["href"]
    uploaded = c.upload(assets_href, 201, "one.png", "two.png").get_json()
    assert "_embedded" not in uploaded and len(uploaded["_links"]["ec:asset"]) == 2  # linked, not embedded
    assets = c.get(assets_href)
    check("ec:assets", assets)
    assert assets["count"] == assets["total"] == 2
    asset = c.get(uploaded["_links"]["ec:asset"][0]["href"])
    check("ec:asset", asset)
    assert asset["type"] == "image" and asset["title"] == "one.png"
    for file in asset["files"]:
        check("ec:asset/file", file)
    found = c.get(expand(assets["_links"]["ec:assets/by-id"]["href"], assetID=asset["assetID"]))
    assert found["assetID"] == asset["assetID"]

    href = asset["_links"]["self"]["href"]
    asset = c.send("PUT", href, 200, json={"title": "One", "tags": ["a", "b"]}).get_json()
    assert asset["title"] == "One" and sorted(asset["tags"]) == ["a", "b"]
    asset = c.upload(href, 200, "one@2x.png").get_json()  # POST ec:asset: another representation
    assert len(asset["files"]) == 2
    c.send("DELETE", href, 204)

    deleted = c.get(manager["_links"]["ec:assets/deleted"]["href"])
    check("ec:assets/deleted", deleted)
    assert deleted["count"] == deleted["total"] == 1
    gone = deleted["_embedded"]["ec:asset/deleted"][0]
    check("ec:asset/deleted", gone, embedded=True)
    assert gone["file"] == gone["files"] and len(gone["file"]) == 2
    gone_href = expand(deleted["_links"]["ec:assets/deleted/by-id"]["href"], assetID=asset["assetID"])
    check("ec:asset/deleted", c.get(gone_href))
    restored = c.send("DELETE", gone_href, 200).get_json()  # "The ec:asset resource is included"
    check("ec:asset", restored)
    assert restored["assetID"] == asset["assetID"] and "deleted" not in restored
    c.send("DELETE", href, 204)
    c.send("DELETE", gone_href + "?destroy=destroy", 204)
    c.get(gone_href, 404)
    assert c.get(assets_href)["total"] == 1


def test_generic_list_rules(seed_client, user_headers):
    """Paging (page 1, size 10 by default; prev/next/first only where they apply), sort, filters."""
    c = Client(seed_client, user_headers, "application/json")
    manager = c.send("POST", "/datamanager/", 201, json={"title": "Space"}).get_json()
    assets_href = manager["_links"]["ec:assets"]["href"]
    names = [f"pic{n:02}.png" for n in range(12)]
    c.upload(assets_href, 201, *names)
    first = c.get(assets_href)
    assert first["count"] == 10 and first["total"] == 12
    assert "next" in first["_links"] and not {"prev", "first"} & set(first["_links"])
    second = c.get(first["_links"]["next"]["href"])
    assert (
        second["count"] == 2 and {"prev", "first"} <= set(second["_links"]) and "next" not in second["_links"]
    )
    page2 = c.get(assets_href + "?page=2&size=5")
    assert page2["count"] == 5
    titles = [a["title"] for a in c.get(assets_href + "?sort=-title&size=12")["_embedded"]["ec:asset"]]
    assert titles == sorted(names, reverse=True)
    assert [a["title"] for a in c.get(assets_href + "?title=pic03.png")["_embedded"]["ec:asset"]] == [
        "pic03.png"
    ]
    assert c.get(assets_href + "?title~=pic1")["total"] == 2
    one = c.get(assets_href + "?title=pic03.png")["_embedded"]["ec:asset"][0]
    assert c.get(assets_href + f"?createdFrom={one['created']}")["total"] >= 1
    by_id = c.get(assets_href + f"?assetID={one['assetID']}")  # "only one item ... and no list resource"
    assert by_id["assetID"] == one["assetID"] and "_embedded" not in by_id
