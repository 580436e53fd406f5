"""Data Manager spaces and members: /datamanager/, /datamanager/{id}, /datamanager/{id}/members/."""

import re

import pytest
from datamanager_support import HAL_FORMS, config_overrides, count_rows, create_space, grant  # noqa: F401
from uritemplate import expand

from app.resources.datamanager.models import DataManager, Member

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ALL = ["manageRights", "editModel", "editEntries", "editAssets", "manageAPIs"]


def test_entry_point_links_spaces_and_by_id(client, user_headers):
    links = client.get("/", headers=user_headers).get_json()["_links"]
    assert links["ec:datamanagers"]["href"] == "http://localhost/datamanager/"
    space = create_space(client, user_headers)
    by_id = links["ec:datamanager/by-id"]
    assert by_id["templated"] is True
    r = client.get(expand(by_id["href"], dataManagerID=space["dataManagerID"]), headers=user_headers)
    assert r.get_json()["title"] == "Space"


def test_create_space(client, user_headers, make_account):
    r = client.post("/datamanager/", json={"title": "Shop", "description": "Products"}, headers=user_headers)
    assert r.status_code == 201
    body = r.get_json()
    assert r.headers["Location"] == body["_links"]["self"]["href"]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["dataManagerID"]) and body["dataManagerID"][14] == "4"
    assert (body["title"], body["description"], body["rights"]) == ("Shop", "Products", ALL)
    assert RFC3339_MS.match(body["created"])
    links = body["_links"]
    assert links["collection"]["href"] == "http://localhost/datamanager/"
    assert links["ec:assets"]["href"].endswith(f"/datamanager/{body['dataManagerID']}/assets/")
    assert links["ec:assets/deleted"]["href"].endswith("/assets/deleted/")
    owner = Member.query.one()
    assert links["ec:customer"]["href"] == f"http://localhost/api/v1/user/{owner.account_id}/"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": 3}, "title"),
        ({"title": "x", "description": None}, "description"),
    ],
)
def test_create_space_bad_body_writes_nothing(client, user_headers, body, field):
    r = client.post("/datamanager/", json=body, headers=user_headers)
    assert r.status_code == 400
    problem = r.get_json()
    assert problem["@event"] == "BODY_DID_NOT_VALIDATE" and field in problem["errors"]
    assert count_rows(DataManager, Member) == (0, 0)


def test_create_space_needs_json(client, user_headers):
    r = client.post(
        "/datamanager/",
        data="title=x",
        headers=user_headers,
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 415
    assert count_rows(DataManager) == (0,)


def test_list_shows_only_member_spaces_and_counts_them(client, make_account, token_for):
    alice, bob = token_for(make_account()), token_for(make_account())
    for title in ("Cats", "Dogs", "Birds"):
        create_space(client, alice, title)
    hidden = create_space(client, bob, "Secret cats")
    body = client.get("/datamanager/?sort=title", headers=alice).get_json()
    assert body["total"] == 3 and body["count"] == 3
    assert [s["title"] for s in body["_embedded"]["ec:datamanager"]] == ["Birds", "Cats", "Dogs"]
    assert client.get("/datamanager/?title~=cat", headers=alice).get_json()["total"] == 1
    r = client.get(f"/datamanager/?dataManagerID={hidden['dataManagerID']}", headers=alice)
    assert r.status_code == 404 and r.get_json()["@event"] == "COULD_NOT_FIND_DATAMANAGER"
    one = client.get(f"/datamanager/?dataManagerID={hidden['dataManagerID']}", headers=bob).get_json()
    assert one["title"] == "Secret cats" and "_embedded" not in one


def test_list_paging_links_and_options(client, user_headers):
    for i in range(3):
        create_space(client, user_headers, f"S{i}")
    body = client.get("/datamanager/?size=1&page=2", headers=user_headers).get_json()
    links = body["_links"]
    assert {
        "self",
        "first",
        "prev",
        "next",
        "last",
        "ec:datamanagers/options",
        "ec:datamanager/by-id",
    } <= set(links)
    assert body["_embedded"]["ec:datamanager"][0]["title"] == "S1"


@pytest.mark.parametrize(
    "query, param",
    [
        ("colour=red", "colour"),
        ("size=500", "size"),
        ("sort=description", "sort"),
        ("createdFrom=yesterday", "createdFrom"),
    ],
)
def test_list_bad_query(client, user_headers, query, param):
    r = client.get(f"/datamanager/?{query}", headers=user_headers)
    assert r.status_code == 400 and param in r.get_json()["errors"]


def test_admin_sees_every_space_with_all_rights(client, admin_headers, user_headers):
    space = create_space(client, user_headers)
    body = client.get(space["_links"]["self"]["href"], headers=admin_headers).get_json()
    assert body["rights"] == ALL
    assert client.get("/datamanager/", headers=admin_headers).get_json()["total"] == 1


def test_update_space(client, user_headers):
    space = create_space(client, user_headers)
    href = space["_links"]["self"]["href"]
    r = client.put(href, json={"title": "New", "description": "Desc"}, headers=user_headers)
    assert r.status_code == 200 and (r.get_json()["title"], r.get_json()["description"]) == ("New", "Desc")
    assert client.get(href, headers=user_headers).get_json()["title"] == "New"


def test_update_space_stale_if_match_and_bad_body_change_nothing(client, user_headers):
    space = create_space(client, user_headers)
    href = space["_links"]["self"]["href"]
    etag = client.get(href, headers=user_headers).headers["ETag"]
    assert (
        client.put(href, json={"title": "A"}, headers={**user_headers, "If-Match": etag}).status_code == 200
    )
    r = client.put(href, json={"title": "B"}, headers={**user_headers, "If-Match": etag})
    assert r.status_code == 412 and r.get_json()["@event"] == "PRECONDITION_FAILED"
    r = client.put(href, json={"title": "C", "rights": ["flyPlanes"]}, headers=user_headers)
    assert r.status_code == 400 and "rights" in r.get_json()["errors"]
    assert client.get(href, headers=user_headers).get_json()["title"] == "A"


def test_dropping_own_rights_keeps_a_manager(client, make_account, token_for):
    owner_account, other_account = make_account(), make_account()
    owner = token_for(owner_account)
    space = create_space(client, owner)
    href = space["_links"]["self"]["href"]
    r = client.put(href, json={"title": "T", "rights": ["editAssets"]}, headers=owner)
    assert r.status_code == 409 and r.get_json()["@event"] == "LAST_RIGHTS_MANAGER"
    assert Member.query.one().rights == ALL
    assert DataManager.query.one().title == "Space"  # the title in the same failed PUT was not written
    grant(client, space, owner, other_account, ["manageRights"])
    r = client.put(href, json={"rights": ["editAssets"]}, headers=owner)
    assert r.status_code == 200 and r.get_json()["rights"] == ["editAssets"]
    assert client.put(href, json={"title": "x"}, headers=owner).status_code == 403


def test_templates_follow_rights(client, make_account, token_for):
    owner, reader_account = token_for(make_account()), make_account()
    reader = token_for(reader_account)
    space = create_space(client, owner)
    grant(client, space, owner, reader_account, [])
    href = space["_links"]["self"]["href"]
    tpl = client.get(href, headers={**owner, **HAL_FORMS}).get_json()["_templates"]["default"]
    assert tpl["method"] == "PUT" and {p["name"] for p in tpl["properties"]} == {
        "title",
        "description",
        "rights",
    }
    assert "_templates" not in client.get(href, headers={**reader, **HAL_FORMS}).get_json()
    assert "_templates" not in client.get(href, headers=owner).get_json()  # plain HAL has no forms
    members = client.get(space["_links"]["ec:datamanager/members"]["href"], headers={**reader, **HAL_FORMS})
    assert "_templates" not in members.get_json()


def test_members_grant_change_revoke(client, make_account, token_for):
    owner_account, bob_account = make_account(), make_account()
    owner, bob = token_for(owner_account), token_for(bob_account)
    space = create_space(client, owner)
    href = space["_links"]["self"]["href"]
    assert client.get(href, headers=bob).status_code == 404
    member = grant(client, space, owner, bob_account, ["editAssets"])
    assert member["accountID"] == bob_account.id and member["rights"] == ["editAssets"]
    assert member["_links"]["ec:datamanager/member/account"]["href"].endswith(
        f"/api/v1/user/{bob_account.id}/"
    )
    assert client.get(href, headers=bob).get_json()["rights"] == ["editAssets"]
    members_href = space["_links"]["ec:datamanager/members"]["href"]
    listing = client.get(members_href + "?sort=accountID", headers=bob).get_json()
    assert [m["accountID"] for m in listing["_embedded"]["ec:datamanager/member"]] == [
        owner_account.id,
        bob_account.id,
    ]
    one = client.get(f"{members_href}?accountID={bob_account.id}", headers=bob).get_json()
    assert one["_links"]["self"]["href"] == member["_links"]["self"]["href"]
    r = client.put(
        member["_links"]["self"]["href"], json={"rights": ["editAssets", "editModel"]}, headers=owner
    )
    assert r.status_code == 200 and r.get_json()["rights"] == ["editModel", "editAssets"]
    assert client.delete(member["_links"]["self"]["href"], headers=owner).status_code == 204
    assert client.get(href, headers=bob).status_code == 404
    assert client.get("/datamanager/", headers=bob).get_json()["total"] == 0


def test_members_bad_requests_change_nothing(client, make_account, token_for):
    owner_account, bob_account = make_account(), make_account()
    owner = token_for(owner_account)
    space = create_space(client, owner)
    members_href = space["_links"]["ec:datamanager/members"]["href"]
    r = client.post(members_href, json={"accountID": 99999, "rights": []}, headers=owner)
    assert r.status_code == 400 and "accountID" in r.get_json()["errors"]
    r = client.post(members_href, json={"accountID": bob_account.id, "rights": ["root"]}, headers=owner)
    assert r.status_code == 400 and "rights" in r.get_json()["errors"]
    r = client.post(members_href, json={"accountID": owner_account.id}, headers=owner)
    assert r.status_code == 409
    own = f"{members_href}{owner_account.id}"
    r = client.put(own, json={"rights": []}, headers=owner)
    assert r.status_code == 409
    assert client.delete(own, headers=owner).status_code == 409
    assert client.get(f"{members_href}{bob_account.id}", headers=owner).status_code == 404
    assert count_rows(Member) == (1,) and Member.query.one().rights == ALL
