"""Assets: upload and type sniffing, listing grammar, edit, merge, extra files, soft delete, restore,
destroy."""

import os

import pytest
from datamanager_support import (  # noqa: F401
    HAL_FORMS,
    config_overrides,
    count_rows,
    create_space,
    csv,
    generic,
    grant,
    jpeg,
    make_asset,
    mp4,
    pdf,
    png,
    stored_files,
    upload,
    wav,
    webm,
    xlsx,
)

from app import storage
from app.extensions import db
from app.resources.datamanager.models import Asset, AssetFile, AssetTag


@pytest.fixture
def space(client, user_headers):
    return create_space(client, user_headers)


def assets_href(space):
    return space["_links"]["ec:assets"]["href"]


def nothing_stored(app):
    return count_rows(Asset, AssetFile, AssetTag) == (0, 0, 0) and stored_files(app) == []


# The client's Content-Type always lies: the type must come from the bytes.
@pytest.mark.parametrize(
    "make, name, asset_type, mimetype",
    [
        (png, "a.png", "image", "image/png"),
        (jpeg, "b.jpg", "image", "image/jpeg"),
        (mp4, "c.mp4", "video", "video/mp4"),
        (webm, "d.webm", "video", "video/webm"),
        (wav, "e.wav", "audio", "audio/x-wav"),
        (pdf, "f.pdf", "document", "application/pdf"),
        (xlsx, "g.xlsx", "spreadsheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (csv, "h.csv", "spreadsheet", "text/csv"),
        (generic, "i.bin", "generic", "application/octet-stream"),
    ],
)
def test_type_is_sniffed_from_content(client, user_headers, space, make, name, asset_type, mimetype):
    r = upload(client, assets_href(space), user_headers, (make(), name, "image/gif"))
    asset = client.get(r.headers["Location"], headers=user_headers).get_json()
    assert (asset["title"], asset["type"], asset["files"][0]["mimetype"]) == (name, asset_type, mimetype)


def test_multi_file_upload_links_every_new_asset(client, app, user_headers, space):
    r = upload(
        client,
        assets_href(space),
        user_headers,
        (png(), "one.png"),
        (pdf(), "two.pdf"),
        (csv(), "dir/three.csv"),
    )
    body = r.get_json()
    links = [link["href"] for link in body["_links"]["ec:asset"]]
    assert body["count"] == 3 and len(links) == 3 and r.headers["Location"] == links[0]
    assert "_embedded" not in body
    titles = [client.get(h, headers=user_headers).get_json()["title"] for h in links]
    assert titles == ["one.png", "two.pdf", "three.csv"]
    assert len(stored_files(app)) == 3


def test_asset_properties_and_image_resolution(client, user_headers, space):
    asset = make_asset(client, space, user_headers, png(31, 17), "wide.png")
    f = asset["files"][0]
    assert f["resolution"] == {"width": 31, "height": 17} and f["size"] == len(png(31, 17))
    assert f["locale"] is None and f["created"].endswith("Z") and f["modified"] == f["created"]
    assert asset["tags"] == [] and asset["_links"]["ec:asset/file"][0]["href"] == f["url"]
    assert asset["_links"]["ec:datamanager"]["href"] == space["_links"]["self"]["href"]
    jpg = make_asset(client, space, user_headers, jpeg(12, 40), "tall.jpg")
    assert jpg["files"][0]["resolution"] == {"width": 12, "height": 40}
    doc = make_asset(client, space, user_headers, pdf(), "x.pdf")
    assert doc["files"][0]["resolution"] == {}


def test_failed_upload_leaves_no_asset_and_no_file(client, app, user_headers, space):
    r = upload(client, assets_href(space), user_headers, (png(), "ok.png"), (b"", "empty.png"), status=400)
    assert "file" in r.get_json()["errors"]
    assert nothing_stored(app)


@pytest.mark.parametrize("config_overrides", [{"HALYARD_MAX_UPLOAD_BYTES": 2000}], indirect=True)
def test_too_large_upload_is_413_and_stores_nothing(client, app, user_headers, space):
    r = upload(
        client, assets_href(space), user_headers, (generic(1000), "a"), (generic(1500), "b"), status=413
    )
    assert r.get_json()["@event"] == "PAYLOAD_TOO_LARGE"
    assert nothing_stored(app)


def test_upload_bad_requests(client, app, user_headers, space):
    href = assets_href(space)
    assert client.post(href, json={"file": "x"}, headers=user_headers).status_code == 415
    r = client.post(href, data={"title": "x"}, headers=user_headers, content_type="multipart/form-data")
    assert r.status_code == 400 and "title" in r.get_json()["errors"]
    r = client.post(href, data={}, headers=user_headers, content_type="multipart/form-data")
    assert r.status_code == 400 and "file" in r.get_json()["errors"]
    assert nothing_stored(app)


def test_listing_grammar(client, user_headers, space):
    href = assets_href(space)
    ids = {}
    for content, name in (
        (png(), "cat.png"),
        (pdf(), "cat-facts.pdf"),
        (csv(), "dogs.csv"),
        (wav(), "bark.wav"),
    ):
        ids[name] = make_asset(client, space, user_headers, content, name)
    client.put(ids["cat.png"]["_links"]["self"]["href"], json={"tags": ["pet", "cute"]}, headers=user_headers)
    client.put(ids["dogs.csv"]["_links"]["self"]["href"], json={"tags": ["pet"]}, headers=user_headers)

    def titles(query):
        r = client.get(f"{href}?{query}", headers=user_headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["total"] == len(body["_embedded"]["ec:asset"]) or "size=" in query
        return [a["title"] for a in body["_embedded"]["ec:asset"]]

    assert titles("sort=title") == ["bark.wav", "cat-facts.pdf", "cat.png", "dogs.csv"]
    assert titles("sort=-title&size=2") == ["dogs.csv", "cat.png"]
    assert titles("title~=CAT&sort=title") == ["cat-facts.pdf", "cat.png"]
    assert titles("type=image,audio&sort=title") == ["bark.wav", "cat.png"]
    assert titles("type!=image&sort=type,title") == ["bark.wav", "cat-facts.pdf", "dogs.csv"]
    assert titles("tags=pet&sort=title") == ["cat.png", "dogs.csv"]
    assert titles("tags=cute,nothing") == ["cat.png"]
    assert titles("tags!=pet&sort=title") == ["bark.wav", "cat-facts.pdf"]
    assert titles("tags~=ut") == ["cat.png"]
    assert (
        titles("createdFrom=2000-01-01&createdTo=2999-01-01&sort=created")
        and titles("createdTo=2000-01-01") == []
    )
    one = client.get(f"{href}?assetID={ids['bark.wav']['assetID']}", headers=user_headers).get_json()
    assert (
        one["title"] == "bark.wav"
        and one["_links"]["self"]["href"] == ids["bark.wav"]["_links"]["self"]["href"]
    )
    for query, param in (
        ("type=pdf", "type"),
        ("sort=tags", "sort"),
        ("tagsFrom=a", "tagsFrom"),
        ("x=1", "x"),
        ("assetID=nope", "assetID"),
    ):
        r = client.get(f"{href}?{query}", headers=user_headers)
        assert r.status_code == 400 and param in r.get_json()["errors"], query


def test_other_spaces_assets_are_not_found(client, user_headers, space):
    asset = make_asset(client, space, user_headers)
    other = create_space(client, user_headers, "Other")
    r = client.get(f"{assets_href(other)}?assetID={asset['assetID']}", headers=user_headers)
    assert r.status_code == 404 and r.get_json()["@event"] == "COULD_NOT_FIND_ASSET"
    assert client.get(f"{assets_href(other)}{asset['assetID']}", headers=user_headers).status_code == 404
    assert client.get(assets_href(other), headers=user_headers).get_json()["total"] == 0


def test_put_title_tags_and_locales(client, user_headers, space):
    asset = make_asset(client, space, user_headers)
    href = asset["_links"]["self"]["href"]
    r = client.put(href, json={"title": "Red", "tags": ["b", "a", "b"]}, headers=user_headers)
    assert r.status_code == 200 and (r.get_json()["title"], r.get_json()["tags"]) == ("Red", ["a", "b"])
    r = client.put(href, json={"tags": ["c"]}, headers=user_headers)
    assert r.get_json()["tags"] == ["c"] and r.get_json()["title"] == "Red"
    assert client.put(href, json={"title": "Kept"}, headers=user_headers).get_json()["tags"] == ["c"]
    url = asset["files"][0]["url"]
    r = client.put(href, json={"files": [{"url": url, "locale": "de-DE"}]}, headers=user_headers)
    assert r.get_json()["files"][0]["locale"] == "de-DE"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": ""}, "title"),
        ({"tags": "a"}, "tags"),
        ({"files": []}, "files"),
        ({"files": [{"url": "http://localhost/elsewhere", "locale": "en"}]}, "files"),
        ({"files": [{"locale": "en"}]}, "files"),
        ({"name": "x"}, "name"),
        ({"title": "T", "files": [{"url": "{url}", "locale": "not a locale!"}]}, "files"),
        ({"title": "T", "_links": {"ec:asset": {"href": "http://localhost/datamanager/"}}}, "_links"),
    ],
)
def test_put_bad_body_changes_nothing(client, user_headers, space, body, field):
    asset = make_asset(client, space, user_headers)
    href = asset["_links"]["self"]["href"]
    if "files" in body and body["files"] and body["files"][0].get("url") == "{url}":
        body["files"][0]["url"] = asset["files"][0]["url"]
    r = client.put(href, json=body, headers=user_headers)
    assert r.status_code == 400 and field in r.get_json()["errors"], r.get_json()
    assert client.get(href, headers=user_headers).get_json() == asset


def test_add_file_then_drop_it_by_omission(client, app, user_headers, space):
    asset = make_asset(client, space, user_headers, png(4, 4), "logo.png")
    href = asset["_links"]["self"]["href"]
    r = upload(client, href, user_headers, (png(64, 64), "logo@2x.png"), status=200, locale="en-US")
    files = r.get_json()["files"]
    assert [f["resolution"]["width"] for f in files] == [4, 64] and files[1]["locale"] == "en-US"
    assert len(stored_files(app)) == 2
    r = client.put(href, json={"files": [{"url": files[1]["url"]}]}, headers=user_headers)
    assert [f["url"] for f in r.get_json()["files"]] == [files[1]["url"]]
    assert len(stored_files(app)) == 1
    assert client.get(files[0]["url"], headers=user_headers).status_code == 404


@pytest.mark.parametrize(
    "parts, form, field",
    [
        ([(pdf(), "doc.pdf")], {}, "file"),
        ([(png(), "x.png")], {"locale": "english!"}, "locale"),
        ([(png(), "x.png"), (png(), "y.png")], {}, "file"),
        ([(png(), "x.png")], {"title": "t"}, "title"),
    ],
)
def test_add_file_bad_requests_leave_no_orphan(client, app, user_headers, space, parts, form, field):
    asset = make_asset(client, space, user_headers)
    r = upload(client, asset["_links"]["self"]["href"], user_headers, *parts, status=400, **form)
    assert field in r.get_json()["errors"]
    assert len(stored_files(app)) == 1 and count_rows(AssetFile) == (1,)


def test_merge_assets(client, app, user_headers, space):
    keep = make_asset(client, space, user_headers, png(2, 2), "keep.png")
    merged = make_asset(client, space, user_headers, jpeg(3, 3), "merged.jpg")
    client.put(merged["_links"]["self"]["href"], json={"tags": ["x"]}, headers=user_headers)
    href = keep["_links"]["self"]["href"]
    r = client.put(
        href,
        json={"tags": ["k"], "_links": {"ec:asset": [{"href": merged["_links"]["self"]["href"]}]}},
        headers=user_headers,
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["tags"] == ["k", "x"] and [f["mimetype"] for f in body["files"]] == [
        "image/png",
        "image/jpeg",
    ]
    assert client.get(merged["_links"]["self"]["href"], headers=user_headers).status_code == 404
    assert client.get(body["files"][1]["url"], headers=user_headers).status_code == 200
    assert count_rows(Asset, AssetFile) == (1, 2) and len(stored_files(app)) == 2


def test_merge_refuses_other_types_and_itself(client, user_headers, space):
    keep = make_asset(client, space, user_headers)
    doc = make_asset(client, space, user_headers, pdf(), "d.pdf")
    href = keep["_links"]["self"]["href"]
    for target in (doc, keep):
        r = client.put(
            href,
            json={"_links": {"ec:asset": {"href": target["_links"]["self"]["href"]}}},
            headers=user_headers,
        )
        assert r.status_code == 400 and "_links" in r.get_json()["errors"]
    assert count_rows(Asset, AssetFile) == (2, 2)


def test_delete_restore_delete_destroy(client, app, user_headers, space):
    asset = make_asset(client, space, user_headers)
    href = asset["_links"]["self"]["href"]
    key_path = stored_files(app)[0]
    assert client.delete(href, headers=user_headers).status_code == 204
    assert client.get(href, headers=user_headers).status_code == 404
    assert client.get(assets_href(space), headers=user_headers).get_json()["total"] == 0
    deleted = client.get(
        space["_links"]["ec:assets/deleted"]["href"], headers={**user_headers, **HAL_FORMS}
    ).get_json()
    assert deleted["total"] == 1 and "ec:assets/deleted/by-id" in deleted["_links"]
    gone = deleted["_embedded"]["ec:asset/deleted"][0]
    assert gone["deleted"].endswith("Z") and gone["assetID"] == asset["assetID"]
    gone_href = gone["_links"]["self"]["href"]
    assert client.get(gone["files"][0]["url"], headers=user_headers).status_code == 200
    assert gone["file"] == gone["files"] and gone["file"][0]["url"] == asset["files"][0]["url"]  # seed 004
    one = client.get(gone_href, headers=user_headers).get_json()
    assert one["file"] == one["files"] == gone["files"] and one["deleted"] == gone["deleted"]
    r = client.delete(gone_href, headers=user_headers)
    assert (
        r.status_code == 200
        and r.get_json()["_links"]["self"]["href"] == href
        and "deleted" not in r.get_json()
        and "file" not in r.get_json()  # a live asset's files are `files` only
    )
    assert client.get(href, headers=user_headers).status_code == 200
    assert client.delete(href, headers=user_headers).status_code == 204
    r = client.delete(gone_href + "?destroy=now", headers=user_headers)
    assert r.status_code == 400 and "destroy" in r.get_json()["errors"]
    assert client.delete(gone_href + "?destroy=destroy", headers=user_headers).status_code == 204
    assert not os.path.exists(key_path) and count_rows(Asset, AssetFile) == (0, 0)
    assert client.get(gone_href, headers=user_headers).status_code == 404


def test_stale_if_match_on_asset_writes(client, user_headers, space):
    asset = make_asset(client, space, user_headers)
    href = asset["_links"]["self"]["href"]
    etag = client.get(href, headers=user_headers).headers["ETag"]
    assert (
        client.put(href, json={"title": "new"}, headers={**user_headers, "If-Match": etag}).status_code == 200
    )
    assert client.delete(href, headers={**user_headers, "If-Match": etag}).status_code == 412
    assert (
        client.put(href, json={"title": "x"}, headers={**user_headers, "If-Match": etag}).status_code == 412
    )
    r = upload(client, href, {**user_headers, "If-Match": etag}, (png(), "p.png"), status=412)
    assert r.get_json()["@event"] == "PRECONDITION_FAILED"
    assert client.get(href, headers=user_headers).get_json()["title"] == "new"


def test_file_download_range_etag_and_disposition(client, user_headers, space):
    content = generic(1000)
    asset = make_asset(client, space, user_headers, content, "r\u00e9sum\u00e9; final=1.bin")
    url = asset["files"][0]["url"]
    r = client.get(url, headers=user_headers)
    assert r.status_code == 200 and r.data == content and r.mimetype == "application/octet-stream"
    # Not on the inline list: an attachment (docs/security.md). The semicolon and '=' stay inside the
    # quoted ASCII fallback; the exact name travels in filename*.
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"resume; final=1.bin\"; filename*=UTF-8''r%C3%A9sum%C3%A9%3B%20final%3D1.bin"
    )
    etag = r.headers["ETag"]
    r = client.get(url, headers={**user_headers, "Range": "bytes=10-19"})
    assert (
        r.status_code == 206 and r.data == content[10:20] and r.headers["Content-Range"] == "bytes 10-19/1000"
    )
    assert client.get(url, headers={**user_headers, "If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={**user_headers, "Range": "bytes=5000-"}).status_code == 416
    AssetFile.query.one().original_name = 'evil"; filename=x.exe'
    db.session.commit()
    header = client.get(url, headers=user_headers).headers["Content-Disposition"]
    assert header == 'attachment; filename="evil\\"; filename=x.exe"'


def test_templates_show_what_rights_allow(client, make_account, token_for, user_headers, space):
    asset = make_asset(client, space, user_headers)
    reader_account = make_account()
    grant(client, space, user_headers, reader_account, ["editModel"])
    reader = token_for(reader_account)
    full = client.get(asset["_links"]["self"]["href"], headers={**user_headers, **HAL_FORMS}).get_json()
    assert set(full["_templates"]) == {"default", "addFile", "delete"}
    assert full["_templates"]["addFile"]["contentType"] == "multipart/form-data"
    assert (
        "_templates"
        not in client.get(asset["_links"]["self"]["href"], headers={**reader, **HAL_FORMS}).get_json()
    )
    listing = client.get(assets_href(space), headers={**reader, **HAL_FORMS}).get_json()
    assert "_templates" not in listing and "_templates" not in listing["_embedded"]["ec:asset"][0]


def test_storage_keys_are_server_chosen(client, app, user_headers, space):
    asset = make_asset(client, space, user_headers, png(), "../../etc/passwd.png")
    assert asset["title"] == "passwd.png"
    key = AssetFile.query.one().storage_key
    assert os.path.exists(storage.store().location(key)) and "passwd" not in stored_files(app)[0]
