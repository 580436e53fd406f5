"""The OpenAPI description of the accounts, objects and datamanager domains is complete and true.

Complete: every operation of the three blueprints declares its request body (the domain's schema; the
uploads as multipart/form-data with binary ``file`` parts), typed success responses (no generic
``HalResource``), its collection grammar, and the seed statuses it can answer.
True: a walk with real data calls every one of those operations successfully and schemathesis'
own checks (status, Content-Type, body schema) accept each response against the description —
errors included, which must also be problem+json.
"""

import contextvars
import io

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.openapi.generate import query_parameters

DOMAINS = ("accounts", "objects", "datamanager")
BODY_METHODS = {"post", "put", "patch"}
GENERIC = {"$ref": "#/components/schemas/HalResource"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NO_BODY = {"accounts_create_auth_request_post"}  # starts a sign-in: no body at all
SCHEMA = {  # a minimal SampleDB schema (seed 001)
    "title": "Object Information",
    "type": "object",
    "properties": {"name": {"title": "Object Name", "type": "text"}},
    "required": ["name"],
}


def png(width=7, height=5, colour="red"):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()  # generated once per app (cached per host)


def domain_operations(spec):
    """{(METHOD, path): operation} of the three domains."""
    return {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if op["tags"][0] in DOMAINS
    }


def test_every_domain_operation_is_declared_completely(spec):
    validate(spec)  # openapi-spec-validator: OpenAPI 3.1, every $ref (typed pages included) resolves
    ops = domain_operations(spec)
    per_domain = {d: sum(op["tags"][0] == d for op in ops.values()) for d in DOMAINS}
    assert per_domain == {"accounts": 24, "objects": 19, "datamanager": 19}
    pages = 0
    for (method, path), op in ops.items():
        where = f"{method} {path}"
        if method.lower() in BODY_METHODS and op["operationId"] not in NO_BODY:
            body = op["requestBody"]
            assert body["required"] is True and "description" not in body, where  # not the generic body
            ((media, content),) = body["content"].items()
            assert content["schema"]["$ref"].startswith("#/components/schemas/"), where
        successes = {s: r for s, r in op["responses"].items() if s.startswith(("2", "3")) and s != "304"}
        assert successes, where
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response, where
                continue
            if list(response["content"]) == ["text/html"]:  # the sign-in page: HTML only, by design
                continue
            schemas = [c["schema"] for c in response["content"].values() if c["schema"] != {"type": "string"}]
            assert schemas and all(
                s != GENERIC and s != {"$ref": "#/components/schemas/CollectionPage"} for s in schemas
            ), (where, status)
        if 'Page"' in str(successes).replace("'", '"'):  # a typed page: its whole grammar is documented
            page = successes["200"]["content"]["application/hal+json"]["schema"]
            page = page["anyOf"][0] if "anyOf" in page else page  # or the one item `<id>=x` answers
            component = spec["components"]["schemas"][page["$ref"].rsplit("/", 1)[1]]
            assert component["allOf"][0] == {"$ref": "#/components/schemas/CollectionPage"}, where
            (items,) = component["allOf"][1]["properties"]["_embedded"]["properties"].values()
            assert items["items"]["$ref"].endswith("Resource") and items["items"] != GENERIC, where
            names = set(query_parameters(op))
            assert {"page", "size", "limit", "offset", "format"} <= names, where
            pages += 1
        assert not op["summary"].startswith(op["tags"][0] + "."), where  # the view's docstring, not its name
    assert pages == 3 + 5 + 4  # users, groups, tokens; actions, objects, versions, 2 permission lists;
    # spaces, members, assets, deleted assets


def test_uploads_are_multipart_with_binary_file_parts(spec):
    components = spec["components"]["schemas"]

    def body(path):
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        assert list(content) == ["multipart/form-data"]
        return components[content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]

    upload = body("/datamanager/{dm_id}/assets/")
    assert upload["properties"]["file"]["items"] == {"type": "string", "format": "binary"}
    assert upload["required"] == ["file"]
    add_file = body("/datamanager/{dm_id}/assets/{asset_id}")
    assert add_file["properties"]["file"] == {"type": "string", "format": "binary"}
    assert add_file["properties"]["locale"]["pattern"]


def test_seed_statuses_are_listed_where_they_occur(spec):
    paths = spec["paths"]
    expect = {
        ("/accounts/auth_requests/", "post"): {"201", "429"},
        ("/accounts/auth_requests/attach_account/", "post"): {
            "200",
            "400",
            "401",
            "404",
            "409",
            "415",
            "429",
        },
        ("/accounts/auth_tokens/", "post"): {"201", "400", "401", "404"},
        ("/api/v1/group/", "post"): {"201", "409", "403"},
        ("/api/v1/group/{group_id}/", "delete"): {"204", "412", "428"},
        ("/api/v1/user/{user_id}/", "patch"): {"200", "409", "412", "428"},
        ("/api/v1/user/{user_id}/password/", "post"): {"204", "400", "403", "429"},
        ("/api/v1/objects/{object_id}", "get"): {"302", "403", "404"},
        ("/api/v1/objects/{object_id}/versions/", "post"): {"201", "409", "412", "428"},
        ("/api/v1/objects/{object_id}/permissions/users/{user_id}", "put"): {"200", "409", "412", "428"},
        ("/datamanager/{dm_id}", "put"): {"200", "403", "409", "412", "428"},
        ("/datamanager/{dm_id}/assets/", "post"): {"201", "400", "413", "415"},
        ("/datamanager/{dm_id}/assets/{asset_id}", "post"): {"200", "412", "413", "415", "428"},
        ("/datamanager/{dm_id}/assets/{asset_id}/files/{file_id}", "get"): {
            "200",
            "206",
            "304",
            "412",
            "416",
        },
        ("/datamanager/{dm_id}/assets/deleted/{asset_id}", "delete"): {"200", "204", "400", "412", "428"},
        ("/datamanager/{dm_id}/members/{account_id}", "delete"): {"204", "409"},
    }
    for (path, method), statuses in expect.items():
        assert statuses <= set(paths[path][method]["responses"]), (path, method)
    assert "Location" in paths["/api/v1/objects/{object_id}"]["get"]["responses"]["302"]["headers"]
    assert list(
        paths["/accounts/auth_requests/{request_uuid}/authenticate/ui/"]["get"]["responses"]["200"]["content"]
    ) == ["text/html"]


class Walk:
    """Calls the app in-process and checks each response with schemathesis against the description."""

    def __init__(self, client, spec):
        self.client, self.schema = client, schemathesis.openapi.from_dict(spec)
        self.templates = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
        self.seen = {}  # (METHOD, template) -> statuses

    def template_of(self, method, path):
        """The described path template a concrete path matches (literal segments win over parameters)."""
        parts = path.split("/")
        candidates = [
            template
            for m, template in self.templates
            if m == method
            and len(template.split("/")) == len(parts)
            and all(
                t == p or (t.startswith("{") and p) for t, p in zip(template.split("/"), parts, strict=False)
            )
        ]
        assert candidates, f"{method} {path} is not described"
        return max(candidates, key=lambda t: sum(not seg.startswith("{") for seg in t.split("/")))

    def __call__(self, method, url, status, **kwargs):
        path, _, query = url.replace("http://localhost", "").partition("?")
        template = self.template_of(method, path)
        response = contextvars.Context().run(self.client.open, url, method=method, **kwargs)
        assert response.status_code == status, (
            method,
            url,
            response.status_code,
            response.get_data(True)[:500],
        )
        operation = self.schema.find_operation_by_label(f"{method} {template}")
        params = {
            t[1:-1]: p
            for t, p in zip(template.split("/"), path.split("/"), strict=False)
            if t.startswith("{")
        }
        case = self.schema.make_case(
            operation=operation,
            method=method,
            path=template,
            path_parameters=params,
            headers=kwargs.get("headers"),
            media_type=response.mimetype,
        )
        case.validate_response(response, checks=CHECKS)
        if status >= 400:
            assert response.mimetype == "application/problem+json" and response.json["status"] == status
        self.seen.setdefault((method, template), set()).add(status)
        return response


@pytest.fixture
def walk(client, spec):
    return Walk(client, spec)


def test_a_real_walk_through_every_domain_operation_conforms(walk, spec, make_account, token_for):
    admin = make_account(type="ADMIN", password="admin-password-1")
    researcher = make_account(password="researcher-password-1")
    A, R = token_for(admin), token_for(researcher)
    J = {"Accept": "application/hal+json"}
    F = {"Accept": "application/prs.hal-forms+json"}

    # --- accounts: device sign-in ---
    started = walk("POST", "/accounts/auth_requests/", 201).json
    uuid_ = started["request_uuid"]
    walk("GET", f"/accounts/auth_requests/{uuid_}/", 200)
    ui = walk.client.get(f"/accounts/auth_requests/{uuid_}/authenticate/ui/")
    assert ui.status_code == 200 and ui.mimetype == "text/html"
    walk.seen[("GET", "/accounts/auth_requests/{request_uuid}/authenticate/ui/")] = {200}
    walk("POST", "/accounts/auth_tokens/", 400, json={"request_uuid": uuid_})  # not yet attached
    walk(
        "POST",
        "/accounts/auth_requests/attach_account/",
        401,
        json={"request_uuid": uuid_, "email": researcher.email, "code": "wrong-password"},
    )
    walk(
        "POST",
        "/accounts/auth_requests/attach_account/",
        200,
        json={"request_uuid": uuid_, "email": researcher.email, "code": "researcher-password-1"},
    )
    walk(
        "POST",
        "/accounts/auth_requests/attach_account/",
        409,
        json={"request_uuid": uuid_, "email": researcher.email, "code": "researcher-password-1"},
    )
    token = walk("POST", "/accounts/auth_tokens/", 201, json={"request_uuid": uuid_}).json
    assert token["token"].startswith("hy_") and token["_embedded"]["ec:account"]["id"] == researcher.id
    walk("POST", "/accounts/auth_tokens/", 404, json={"request_uuid": uuid_})

    # --- accounts: users and tokens ---
    users = walk("GET", "/api/v1/user/?sort=-id&size=1", 200, headers=A).json
    assert users["total"] == 2 and users["_embedded"]["ec:user"][0]["id"] == researcher.id
    walk("GET", f"/api/v1/user/?id={admin.id}", 200, headers=A)
    walk("GET", f"/api/v1/user/{researcher.id}/", 200, headers={**A, **F})
    walk("GET", "/accounts/me/", 200, headers=R)
    walk("PATCH", f"/api/v1/user/{researcher.id}/", 200, headers=A, json={"username": "res"})
    walk("PATCH", f"/api/v1/user/{admin.id}/", 409, headers=A, json={"type": "RESEARCHER"})
    walk("POST", f"/api/v1/user/{admin.id}/password/", 403, headers=R, json={"new_password": "whatever-123"})
    walk("POST", "/api/v1/user/token/", 201, headers=A, json={"email": "new@example.org"})
    walk("POST", "/api/v1/user/token/", 403, headers=R, json={"email": "new@example.org"})
    issued = walk(
        "POST",
        f"/api/v1/user/{researcher.id}/tokens/",
        201,
        headers=R,
        json={"name": "ci", "ttl_seconds": 3600},
    ).json
    walk("GET", f"/api/v1/user/{researcher.id}/tokens/", 200, headers=R)
    walk("GET", f"/api/v1/user/{researcher.id}/tokens/?revoked=false&sort=name", 200, headers=R)
    walk("GET", f"/api/v1/user/{researcher.id}/tokens/{issued['id']}/", 200, headers=R)
    walk("DELETE", f"/api/v1/user/{researcher.id}/tokens/{issued['id']}/", 204, headers=R)

    # --- accounts: groups ---
    group = walk("POST", "/api/v1/group/", 201, headers=A, json={"name": "lab"}).json
    walk("POST", "/api/v1/group/", 409, headers=A, json={"name": "lab"})
    gid = group["id"]
    walk("GET", "/api/v1/group/", 200, headers=A)
    walk("GET", f"/api/v1/group/{gid}/", 200, headers=A)
    walk("PUT", f"/api/v1/group/{gid}/", 200, headers=A, json={"name": "lab 2"})
    walk("POST", f"/api/v1/group/{gid}/members/", 200, headers=A, json={"user_id": researcher.id})
    walk("GET", f"/api/v1/group/?member={researcher.id}", 200, headers=R)

    # --- objects ---
    action = walk(
        "POST",
        "/api/v1/actions/",
        201,
        headers=R,
        json={"type": "sample", "name": "Sample", "schema": SCHEMA},
    ).json
    aid = action["action_id"]
    walk("GET", "/api/v1/actions/?type=sample", 200, headers=R)
    walk("GET", f"/api/v1/actions/{aid}", 200, headers=R)
    walk(
        "PUT",
        f"/api/v1/actions/{aid}",
        200,
        headers=R,
        json={"type": "sample", "name": "Sample 2", "schema": SCHEMA, "description": "x"},
    )
    data = {"name": {"_type": "text", "text": "one"}}
    version = walk("POST", "/api/v1/objects/", 201, headers=R, json={"action_id": aid, "data": data}).json
    oid = version["object_id"]
    walk("POST", "/api/v1/objects/", 400, headers=R, json={"action_id": aid, "data": {}})
    walk("GET", "/api/v1/objects/?name~=on", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}", 302, headers=R)
    walk("GET", f"/api/v1/objects/{oid}", 403, headers=token_for(make_account()))  # exists, may not READ
    walk("GET", "/api/v1/objects/2147483647", 404, headers=R)
    walk(
        "POST",
        f"/api/v1/objects/{oid}/versions/",
        201,
        headers=R,
        json={"data": {"name": {"_type": "text", "text": "two"}}},
    )
    walk("POST", f"/api/v1/objects/{oid}/versions/", 409, headers=R, json={"version_id": 0, "data": data})
    walk(
        "POST",
        f"/api/v1/objects/{oid}/versions/",
        412,
        headers={**R, "If-Match": '"stale"'},
        json={"data": data},
    )
    walk("GET", f"/api/v1/objects/{oid}/versions/", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}/versions/?version_id=0", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}/versions/1", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}/permissions/", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}/permissions/public", 200, headers=R)
    walk("PUT", f"/api/v1/objects/{oid}/permissions/public", 200, headers=R, json={"public": True})
    walk(
        "PUT",
        f"/api/v1/objects/{oid}/permissions/users/{admin.id}",
        200,
        headers=R,
        json={"permission": "write"},
    )
    walk("GET", f"/api/v1/objects/{oid}/permissions/users/", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}/permissions/users/{admin.id}", 200, headers=R)
    walk(
        "PUT", f"/api/v1/objects/{oid}/permissions/groups/{gid}", 200, headers=R, json={"permission": "read"}
    )
    walk("GET", f"/api/v1/objects/{oid}/permissions/groups/?permission=read", 200, headers=R)
    walk("GET", f"/api/v1/objects/{oid}/permissions/groups/{gid}", 200, headers=R)

    # --- datamanager ---
    space = walk("POST", "/datamanager/", 201, headers=R, json={"title": "Images"}).json
    dm = space["dataManagerID"]
    walk("GET", "/datamanager/?sort=title", 200, headers=R)
    walk("GET", f"/datamanager/{dm}", 200, headers=R)
    walk("PUT", f"/datamanager/{dm}", 200, headers=R, json={"description": "Pictures"})
    walk("PUT", f"/datamanager/{dm}", 409, headers=R, json={"rights": ["editAssets"]})
    walk("POST", f"/datamanager/{dm}/members/", 201, headers=R, json={"accountID": admin.id, "rights": []})
    walk("POST", f"/datamanager/{dm}/members/", 409, headers=R, json={"accountID": admin.id})
    walk("GET", f"/datamanager/{dm}/members/", 200, headers=R)
    walk("GET", f"/datamanager/{dm}/members/{admin.id}", 200, headers=R)
    walk("PUT", f"/datamanager/{dm}/members/{admin.id}", 200, headers=R, json={"rights": ["editAssets"]})
    walk("DELETE", f"/datamanager/{dm}/members/{researcher.id}", 409, headers=R)
    walk("DELETE", f"/datamanager/{dm}/members/{admin.id}", 204, headers=R)
    uploaded = walk(
        "POST",
        f"/datamanager/{dm}/assets/",
        201,
        headers=R,
        data={"file": [(io.BytesIO(png()), "red.png"), (io.BytesIO(png(3, 3, "blue")), "blue.png")]},
        content_type="multipart/form-data",
    ).json
    assert uploaded["count"] == 2
    walk("POST", f"/datamanager/{dm}/assets/", 415, headers=R, json={"file": "x"})
    walk(
        "POST",
        f"/datamanager/{dm}/assets/",
        400,
        headers=R,
        data={"file": (io.BytesIO(b""), "empty.png")},
        content_type="multipart/form-data",
    )
    first, second = (link["href"].rsplit("/", 1)[1] for link in uploaded["_links"]["ec:asset"])
    walk("GET", f"/datamanager/{dm}/assets/?type=image&title~=red", 200, headers=R)
    asset = walk("GET", f"/datamanager/{dm}/assets/{first}", 200, headers={**R, **F}).json
    assert asset["files"][0]["resolution"] == {"width": 7, "height": 5}
    walk(
        "POST",
        f"/datamanager/{dm}/assets/{first}",
        200,
        headers=R,
        data={"file": (io.BytesIO(png(14, 10)), "red@2x.png"), "locale": "en-GB"},
        content_type="multipart/form-data",
    )
    walk(
        "PUT",
        f"/datamanager/{dm}/assets/{first}",
        200,
        headers=R,
        json={
            "title": "Red",
            "tags": ["colour"],
            "_links": {"ec:asset": {"href": f"http://localhost/datamanager/{dm}/assets/{second}"}},
        },
    )
    file_url = walk("GET", f"/datamanager/{dm}/assets/{first}", 200, headers={**R, **J}).json["files"][0][
        "url"
    ]
    walk("GET", file_url, 200, headers=R)
    walk("GET", file_url, 206, headers={**R, "Range": "bytes=0-3"})
    walk("GET", file_url, 416, headers={**R, "Range": "bytes=100000-"})
    etag = walk("GET", file_url, 200, headers=R).headers["ETag"]
    walk("GET", file_url, 304, headers={**R, "If-None-Match": etag})
    walk("GET", file_url, 200, headers={**R, "If-Match": etag})
    walk("GET", file_url, 200, headers={**R, "If-Match": "*"})  # werkzeug alone answered 412 to '*'
    walk("GET", file_url, 412, headers={**R, "If-Match": '"stale"'})  # werkzeug alone: 412 with the bytes
    walk("DELETE", f"/datamanager/{dm}/assets/{first}", 204, headers=R)
    walk("GET", f"/datamanager/{dm}/assets/deleted/", 200, headers=R)
    walk("GET", f"/datamanager/{dm}/assets/deleted/{first}", 200, headers=R)
    walk("DELETE", f"/datamanager/{dm}/assets/deleted/{first}?destroy=now", 400, headers=R)
    walk("DELETE", f"/datamanager/{dm}/assets/deleted/{first}", 200, headers=R)  # restored
    walk("DELETE", f"/datamanager/{dm}/assets/{first}", 204, headers=R)
    walk("DELETE", f"/datamanager/{dm}/assets/deleted/{first}?destroy=destroy", 204, headers=R)

    # --- accounts: the deletes last (the group was used by the objects permissions) ---
    walk("DELETE", f"/api/v1/group/{gid}/members/{researcher.id}/", 204, headers=A)
    walk("DELETE", f"/api/v1/group/{gid}/members/{researcher.id}/", 404, headers=A)
    walk("DELETE", f"/api/v1/group/{gid}/", 204, headers=A)
    walk(
        "POST",
        f"/api/v1/user/{researcher.id}/password/",
        400,
        headers=R,
        json={"current_password": "wrong-password", "new_password": "researcher-password-2"},
    )
    walk(
        "POST",
        f"/api/v1/user/{researcher.id}/password/",
        204,
        headers=R,
        json={"current_password": "researcher-password-1", "new_password": "researcher-password-2"},
    )

    # The OpenID Connect sign-in needs a provider: tests/resources/accounts/test_oidc_signin.py walks it.
    missing = {
        op
        for op in domain_operations(spec)
        if not any(s < 400 for s in walk.seen.get(op, ())) and "oidc" not in op[1]
    }
    assert not missing, sorted(missing)
