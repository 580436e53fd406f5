"""401 / 404 / 403 on every path of the data manager domain, and that refused writes change nothing."""

import pytest
from datamanager_support import config_overrides, create_space, grant, make_asset  # noqa: F401

SPACE = "/datamanager/{dm}"
ASSET = SPACE + "/assets/{asset}"
GONE = SPACE + "/assets/deleted/{gone}"
MEMBER = SPACE + "/members/{owner}"

# (method, path, the right a write needs)
READS = [
    ("GET", SPACE),
    ("GET", SPACE + "/members/"),
    ("GET", MEMBER),
    ("GET", SPACE + "/assets/"),
    ("GET", ASSET),
    ("GET", ASSET + "/files/{file}"),
    ("GET", SPACE + "/assets/deleted/"),
    ("GET", GONE),
]
WRITES = [
    ("PUT", SPACE, "manageRights"),
    ("POST", SPACE + "/members/", "manageRights"),
    ("PUT", MEMBER, "manageRights"),
    ("DELETE", MEMBER, "manageRights"),
    ("POST", SPACE + "/assets/", "editAssets"),
    ("PUT", ASSET, "editAssets"),
    ("POST", ASSET, "editAssets"),
    ("DELETE", ASSET, "editAssets"),
    ("DELETE", GONE, "editAssets"),
    ("DELETE", GONE + "?destroy=destroy", "editAssets"),
]
EVERY = READS + [(m, p) for m, p, _ in WRITES]


@pytest.fixture
def world(client, make_account, token_for):
    owner_account = make_account()
    owner = token_for(owner_account)
    space = create_space(client, owner)
    asset = make_asset(client, space, owner)
    gone = make_asset(client, space, owner, name="gone.png")
    assert client.delete(gone["_links"]["self"]["href"], headers=owner).status_code == 204
    ids = {
        "dm": space["dataManagerID"],
        "asset": asset["assetID"],
        "gone": gone["assetID"],
        "owner": owner_account.id,
        "file": asset["files"][0]["url"].rsplit("/", 1)[1],
    }
    return {"owner": owner, "space": space, "ids": ids}


def call(client, method, path, ids, headers):
    kwargs = {"json": {}} if method in ("PUT", "POST") else {}
    return client.open(path.format(**ids), method=method, headers=headers, **kwargs)


@pytest.mark.parametrize("method, path", EVERY + [("GET", "/datamanager/"), ("POST", "/datamanager/")])
def test_401_without_credentials(client, unchanged, world, method, path):
    with unchanged():
        r = call(client, method, path, world["ids"], {})
    assert r.status_code == 401 and r.get_json()["@event"] == "COULD_NOT_FIND_AUTH_TOKEN"
    assert "WWW-Authenticate" in r.headers


@pytest.mark.parametrize("method, path", EVERY)
def test_404_for_non_members(client, unchanged, world, user_headers, method, path):
    with unchanged():
        r = call(client, method, path, world["ids"], user_headers)
    assert r.status_code == 404 and r.get_json()["@event"] == "COULD_NOT_FIND_DATAMANAGER"


@pytest.mark.parametrize(
    "method, path",
    [("GET", ASSET), ("GET", GONE), ("GET", ASSET + "/files/{file}"), ("PUT", ASSET), ("DELETE", GONE)],
)
def test_404_for_unknown_assets(client, unchanged, world, method, path):
    ids = {
        **world["ids"],
        "asset": "00000000-0000-4000-8000-000000000000",
        "gone": world["ids"]["asset"],
    }  # a live asset is not in the deleted collection
    with unchanged():
        r = call(client, method, path, ids, world["owner"])
    assert r.status_code == 404 and r.get_json()["@event"].startswith("COULD_NOT_FIND_ASSET")


@pytest.mark.parametrize("method, path, right", WRITES)
def test_403_without_the_right(client, unchanged, world, make_account, token_for, method, path, right):
    others = [
        r for r in ("manageRights", "editModel", "editEntries", "editAssets", "manageAPIs") if r != right
    ]
    account = make_account()
    grant(client, world["space"], world["owner"], account, others)
    headers = token_for(account)
    with unchanged():
        r = call(client, method, path, world["ids"], headers)
    assert r.status_code == 403 and r.get_json()["missing_right"] == right


@pytest.mark.parametrize("method, path", READS)
def test_members_without_rights_may_read(client, world, make_account, token_for, method, path):
    account = make_account()
    grant(client, world["space"], world["owner"], account, [])
    assert call(client, method, path, world["ids"], token_for(account)).status_code == 200
