"""End-to-end walk of the objects graph from ``GET /``, by links and HAL-FORMS templates only.

Alice creates an action, an object and two more versions, grants a group READ; Bob, a member of
that group, then finds and reads the object. The group is made with the models (the accounts
domain serves groups over HTTP).
"""

from app.extensions import db
from app.hal import expand
from app.resources.accounts.models import Group

FORMS = "application/prs.hal-forms+json"
SCHEMA = {
    "title": "Wire",
    "type": "object",
    "properties": {
        "name": {"title": "Name", "type": "text"},
        "length": {"title": "Length", "type": "quantity", "units": "m"},
    },
    "required": ["name"],
}


class Walker:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def get(self, href, status=200):
        response = self.client.get(href, headers={**self.headers, "Accept": FORMS})
        assert response.status_code == status, (href, response.json)
        return response

    def entry(self, rel):
        return self.get("http://localhost/").json["_links"][rel]

    def submit(self, doc, name, body, status, headers=None):
        """Fill the named template of ``doc`` with ``body`` (only names the template offers) and send it."""
        template = doc["_templates"][name]
        offered = {p["name"] for p in template["properties"]}
        assert set(body) <= offered, set(body) - offered
        assert {p["name"] for p in template["properties"] if p.get("required")} <= set(body)
        target = template.get("target") or doc["_links"]["self"]["href"]
        response = self.client.open(
            target,
            method=template["method"],
            json=body,
            headers={**self.headers, "Content-Type": template["contentType"], **(headers or {})},
        )
        assert response.status_code == status, response.json
        return response


def length(metres):
    return {
        "_type": "quantity",
        "units": "m",
        "dimensionality": "[length]",
        "magnitude_in_base_units": metres,
    }


def test_walk_from_root_to_a_shared_object(client, make_account, token_for):
    alice, bob = make_account(), make_account()
    group = Group(name="wire-team", members=[bob])
    db.session.add(group)
    db.session.commit()
    a, b = Walker(client, token_for(alice)), Walker(client, token_for(bob))

    actions = a.get(a.entry("ec:actions")["href"]).json
    created = a.submit(
        actions,
        "default",
        {"type": "sample", "name": "Wire", "description": "Cut a wire", "schema": SCHEMA},
        201,
    )
    action = a.get(created.headers["Location"]).json
    assert action["schema"] == SCHEMA

    objects = a.get(a.entry("ec:objects")["href"]).json
    v0 = a.submit(
        objects,
        "default",
        {
            "action_id": action["action_id"],
            "data": {"name": {"_type": "text", "text": "Wire 1"}, "length": length(2)},
        },
        201,
    )
    version = a.get(v0.headers["Location"])
    for n, metres in ((1, 1.5), (2, 1.25)):
        written = a.submit(
            version.json,
            "new-version",
            {"data": {"name": {"_type": "text", "text": "Wire 1"}, "length": length(metres)}},
            201,
            headers={"If-Match": version.headers["ETag"]},
        )
        assert written.headers["Location"].endswith(f"/versions/{n}")
        version = a.get(written.headers["Location"])
    assert version.json["_links"]["predecessor-version"]["href"].endswith("/versions/1")

    permissions = a.get(version.json["_links"]["ec:object/permissions"]["href"]).json
    group_href = expand(permissions["_links"]["ec:object/permissions/group/by-id"]["href"], group_id=group.id)
    group_permission = a.get(group_href).json
    assert group_permission["permission"] == "none"
    granted = a.submit(group_permission, "default", {"permission": "read"}, 200)
    assert granted.json["permission"] == "read"

    # Bob, as a member of the group, finds the object from the entry point and reads its current version
    listing = b.get(b.entry("ec:objects")["href"]).json
    assert listing["total"] == 1
    found = listing["_embedded"]["ec:object"][0]
    redirect = b.get(expand(b.entry("ec:object/by-id")["href"], object_id=found["object_id"]), status=302)
    current = b.get(redirect.headers["Location"]).json
    assert current["version_id"] == 2 and current["data"]["length"]["magnitude_in_base_units"] == 1.25
    assert "_templates" not in current  # READ only: no new-version template
    assert b.get(current["_links"]["ec:object/permissions"]["href"]).json["permission"] == "read"
    history = b.get(current["_links"]["version-history"]["href"]).json
    assert [v["version_id"] for v in history["_embedded"]["ec:object/version"]] == [0, 1, 2]
    assert b.get(current["_links"]["ec:action"]["href"]).json["name"] == "Wire"


def curied_rels(doc):
    found = {rel for rel in doc.get("_links", {}) if rel.startswith("ec:")}
    for rel, value in doc.get("_embedded", {}).items():
        found.add(rel)
        for child in value if isinstance(value, list) else [value]:
            found |= curied_rels(child)
    return found


def test_every_relation_the_domain_emits_is_documented(client, make_account, token_for):
    owner = make_account()
    w = Walker(client, token_for(owner))
    group = Group(name="g")
    db.session.add(group)
    db.session.commit()
    actions = w.get(w.entry("ec:actions")["href"]).json
    action = w.submit(actions, "default", {"type": "sample", "name": "A", "schema": SCHEMA}, 201).json
    objects = w.get(w.entry("ec:objects")["href"]).json
    version = w.submit(
        objects,
        "default",
        {"action_id": action["action_id"], "data": {"name": {"_type": "text", "text": "x"}}},
        201,
    ).json
    permissions = w.get(version["_links"]["ec:object/permissions"]["href"]).json
    docs = [
        w.get("http://localhost/").json,
        actions,
        action,
        w.get(w.entry("ec:objects")["href"]).json,
        version,
        w.get(version["_links"]["version-history"]["href"]).json,
        permissions,
        w.get(permissions["_links"]["ec:object/permissions/users"]["href"]).json,
        w.get(permissions["_links"]["ec:object/permissions/public"]["href"]).json,
        w.get(
            expand(permissions["_links"]["ec:object/permissions/group/by-id"]["href"], group_id=group.id)
        ).json,
    ]
    rels = set().union(*(curied_rels(d) for d in docs))
    assert {"ec:object/permissions/user", "ec:object/version", "ec:user", "ec:object/references"} <= rels
    for rel in sorted(rels):
        doc = client.get(f"/rels/{rel[3:]}", headers=w.headers)
        assert doc.status_code == 200, rel
