"""The browsable API: HTML pages of HAL documents and problems, the ?format= toggle, static assets."""

import json
import re

import pytest
from browsable_fixtures import widgets  # noqa: F401  (no conftest here: it would shadow tests/conftest)
from bs4 import BeautifulSoup

from app.jobs import enqueue
from app.jobs.probe import probe

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # what Chromium sends


def page(response):
    assert response.mimetype == "text/html", response.data[:300]
    return BeautifulSoup(response.data, "html.parser")


def browse(client, path, headers=None):
    return client.get(path, headers={**HTML, **(headers or {})})


def test_entry_point_page_shows_properties_links_status_headers_and_curl(client):
    response = browse(client, "/")
    assert response.status_code == 200
    assert re.fullmatch(r'"[0-9a-f]{32}-h[0-9a-f]{8}"', response.headers["ETag"])  # state, page, caller
    soup = page(response)
    assert soup.title.string.startswith("Halyard")
    props = {tr.th.get_text(): tr.td.get_text() for tr in soup.select("section.resource > table.props tr")}
    assert props == {"title": "Halyard", "version": "0.1.0"}
    hrefs = {row["data-rel"]: row for row in soup.select("table.links tr.link")}
    assert {"self", "ec:jobs", "ec:health", "ec:job/by-id", "ec:rels", "service-desc"} <= set(hrefs)
    assert hrefs["ec:jobs"].find("a", href="http://localhost/jobs/")
    assert (
        hrefs["ec:jobs"].find("a", class_="rel")["href"] == "http://localhost/rels/jobs"
    )  # the CURIE resolved
    form = hrefs["ec:job/by-id"].find("form", class_="uri-template")
    assert form["data-template"] == "http://localhost/jobs/{id}" and form.find("input")["data-var"] == "id"
    status = soup.select_one("section.request p.status")
    assert status["data-status"] == "200" and "200 OK" in status.get_text()
    headers = {tr.th.get_text(): tr.td.get_text() for tr in soup.select("details.headers tr")}
    assert (
        headers["ETag"] == response.headers["ETag"]
        and headers["X-Request-ID"] == response.headers["X-Request-ID"]
    )
    assert (
        soup.select_one("#curl").get_text() == "curl -i -H 'Accept: application/hal+json' http://localhost/"
    )
    raw = json.loads(soup.select_one("#raw").get_text())
    assert raw["_links"]["self"]["href"] == "http://localhost/"
    assert soup.find("link", rel="stylesheet")["href"] == "/_browsable/static/browsable.css"


def test_relation_pages_are_browsable_pages_like_every_resource(client):
    index = page(browse(client, "/rels/"))
    rows = index.select('table.links tr.link[data-rel="item"]')
    items = {row.find("a", rel="item")["href"] for row in rows}
    assert "http://localhost/rels/job/by-id" in items and len(items) > 20  # one link per relation

    response = browse(client, "/rels/job/by-id")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert re.fullmatch(r'"[0-9a-f]{32}-h[0-9a-f]{8}"', response.headers["ETag"])
    soup = page(response)
    assert soup.find("link", rel="stylesheet")["href"] == "/_browsable/static/browsable.css"
    assert soup.select_one("section.request p.status")["data-status"] == "200"
    props = {
        tr.th.get_text(): tr.td
        for tr in soup.select(
            "section.resource > table.props > tr, section.resource > table.props > tbody > tr"
        )
    }
    assert props["curie"].get_text() == "ec:job/by-id" and props["methods"].get_text(" ").split() == ["GET"]
    links = {row["data-rel"]: row for row in soup.select("table.links tr.link")}
    assert links["collection"].find("a", href="http://localhost/rels/")
    assert json.loads(soup.select_one("#raw").get_text())["rel"] == "job/by-id"
    missing = browse(client, "/rels/no-such-rel")
    assert missing.status_code == 404 and page(missing).select_one("section.request p.status") is not None


def test_static_assets_are_served_by_the_app(client):
    js = client.get("/_browsable/static/browsable.js")
    css = client.get("/_browsable/static/browsable.css")
    assert js.status_code == 200 and "javascript" in js.mimetype and b"sessionStorage" in js.data
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_collection_page_has_paging_a_typed_filter_form_and_a_sortable_table(
    app, client, make_account, token_for
):
    admin = make_account(type="ADMIN")
    for _ in range(7):
        enqueue(probe, 1, 0.0, False, kind="probe", owner=admin)
    soup = page(
        browse(client, "/jobs/?size=3&page=2&sort=-created&kind~=pro&status!=failed", token_for(admin))
    )
    paging = soup.select_one("nav.paging")
    rels = {a["rel"][0]: a["href"] for a in paging.find_all("a")}
    assert set(rels) == {"first", "prev", "next", "last"}
    assert rels["next"].startswith("http://localhost/jobs/?cursor=")  # next/prev of a numbered page: cursors
    assert "&size=3&sort=-created&kind~=pro&status!=failed" in rels["next"]
    assert "?page=3&size=3&sort=-created" in rels["last"]
    assert "3 shown of 7" in paging.get_text()

    # one typed filter form, each field once, with its operator picker, prefilled from the query
    forms = soup.select("form.filter-form")
    assert len(forms) == 1 and forms[0]["data-template"].startswith(
        "http://localhost/jobs/{?page,size,cursor,sort,"
    )
    assert not soup.select("form.uri-template[data-template*='status']")  # not a second time in the links
    rows = {row["data-field"]: row for row in forms[0].select(".filter-row[data-field]")}
    assert {"status", "kind", "created"} <= set(rows) and not {"status!", "kind~", "createdFrom"} & set(rows)
    ops = {name: [o["value"] for o in row.select("select.op option")] for name, row in rows.items()}
    assert ops["kind"] == ["eq", "ne", "contains"] and ops["created"] == ["from", "to", "between"]
    assert ops["status"] == ["eq", "ne"]
    assert rows["kind"]["data-op"] == "contains" and rows["kind"].select_one("input.value")["value"] == "pro"
    assert rows["status"]["data-op"] == "ne" and rows["status"]["data-var-ne"] == "status%21"
    status_choices = [o["value"] for o in rows["status"].select("select.value option")]
    assert {"", "queued", "started", "finished", "failed"} <= set(status_choices)  # an enum is a dropdown
    assert rows["status"].select_one("select.value option[selected]")["value"] == "failed"
    assert rows["created"].select_one("input.value")["type"] == "date"  # a date picker
    sort = forms[0].select_one("select#q-sort")
    assert sort.select_one("option[selected]")["value"] == "-created" and len(sort.select("option")) > 3
    assert forms[0].select_one("input#q-size")["value"] == "3"

    # the items as a table: columns for jobs, the first linking to the item, sortable headers
    table = soup.select_one("section.embedded[data-rel='ec:job'] table.items")
    columns = [th["data-key"] for th in table.select("thead th")]
    assert columns == ["id", "kind", "status", "progress", "created", "ended"]
    rows = table.select("tbody tr.item")
    assert len(rows) == 3 and all(row.select_one("td a.self")["href"] == row["data-self"] for row in rows)
    created = table.select_one("thead th[data-key=created]")
    assert created["aria-sort"] == "descending"
    href = created.select_one("a.sort")["href"]
    assert href.startswith("http://localhost/jobs/?") and "sort=created" in href and "page=" not in href
    assert "kind%7E=pro" in href and "status%21=failed" in href  # the filters stay, through the template
    kind = table.select_one("thead th[data-key=kind] a.sort")["href"]
    assert "sort=kind" in kind
    assert table.select_one("thead th[data-key=progress] a") is None  # not sortable: a plain header


def test_hal_forms_template_becomes_a_real_form(client, admin_headers):
    soup = page(browse(client, "/api/health/", admin_headers))
    form = soup.select_one("form.hal-form[data-name=probe]")
    assert form["data-method"] == "POST" and form["data-content-type"] == "application/json"
    assert form["data-target"] == "http://localhost/api/health/probe"
    steps = form.find("input", attrs={"name": "steps"})
    assert (steps["type"], steps["min"], steps["max"], steps["value"]) == ("number", "1", "20", "3")
    assert form.find("input", attrs={"name": "fail"})["type"] == "checkbox"


def test_templates_only_for_who_may_use_them(client, user_headers):
    response = browse(client, "/api/health/", user_headers)
    assert response.status_code in (200, 503) and not page(response).select("form.hal-form")


@pytest.mark.fresh_app
def test_upload_template_is_a_multipart_form_with_a_file_input(widgets, client, user_headers):
    soup = page(browse(client, "/test-widgets/box", user_headers))
    upload = soup.select_one("form.hal-form[data-name=upload]")
    assert upload["data-content-type"] == "multipart/form-data" and upload["enctype"] == "multipart/form-data"
    assert upload.find("input", attrs={"name": "file"})["type"] == "file"
    assert soup.select_one("form.hal-form[data-name=default]")["data-method"] == "PUT"
    assert soup.select_one("form.hal-form[data-name=delete]")["data-method"] == "DELETE"


@pytest.mark.fresh_app
def test_properties_are_escaped_and_only_http_links_are_clickable(widgets, client, user_headers):
    evil = "<script>alert(1)</script>"
    etag = client.get("/test-widgets/box", headers=user_headers).headers["ETag"]
    put = client.put("/test-widgets/box", json={"label": evil}, headers={**user_headers, "If-Match": etag})
    assert put.status_code == 200
    response = browse(client, "/test-widgets/box", user_headers)
    assert b"<script>alert" not in response.data and b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.data
    assert not page(response).find("a", href=lambda h: h and h.startswith("javascript:"))


def test_problems_render_as_pages_for_browsers_and_json_for_clients(client):
    missing = browse(client, "/no/such/path")
    assert missing.status_code == 404
    soup = page(missing)
    assert "COULD_NOT_FIND_RESOURCE" in soup.select_one("section.problem").get_text()
    assert soup.select_one("section.request p.status")["data-status"] == "404"
    unauthorized = browse(client, "/jobs/")
    assert unauthorized.status_code == 401 and "Basic" in unauthorized.headers["WWW-Authenticate"]
    assert page(unauthorized).select_one("form#signin-token")
    as_json = client.get("/no/such/path")
    assert as_json.mimetype == "application/problem+json" and as_json.get_json()["status"] == 404
    head = client.head("/no/such/path", headers=HTML)
    assert head.status_code == 404 and head.data == b""


def test_bad_query_on_a_collection_is_a_readable_page_naming_the_parameter(client, admin_headers):
    soup = page(browse(client, "/jobs/?colour=red", admin_headers))
    assert "colour" in soup.select_one("section.problem").get_text()


@pytest.mark.parametrize(
    "fmt, media_type",
    [
        ("json", "application/json"),
        ("hal", "application/hal+json"),
        ("hal-forms", "application/prs.hal-forms+json"),
        ("html", "text/html"),
    ],
)
def test_format_toggle_overrides_accept_and_is_invisible_to_the_grammar(
    client, admin_headers, fmt, media_type
):
    response = client.get(f"/jobs/?size=2&format={fmt}", headers={**HTML, **admin_headers})
    assert response.status_code == 200 and response.mimetype == media_type
    if fmt != "html":
        assert response.get_json()["_links"]["self"]["href"] == "http://localhost/jobs/?page=1&size=2"


def test_format_toggle_leaves_other_values_to_the_view_and_the_grammar_stays_strict(client, admin_headers):
    # not a representation: the value reaches the view; the jobs grammar has no `format`, so 400 naming it
    bad = client.get("/jobs/?format=xml", headers=admin_headers)
    assert bad.status_code == 400 and list(bad.get_json()["errors"]) == ["format"]
    assert client.get("/jobs/?formats=json", headers=admin_headers).status_code == 400
    both = client.get("/jobs/?format=json&format=html", headers=admin_headers)
    assert both.status_code == 400 and list(both.get_json()["errors"]) == ["format"]


def test_format_toggle_sees_a_percent_encoded_key(client, admin_headers):
    # toggle.py skips parsing the query when no "format" can be in it; "%66ormat" decodes to "format"
    response = client.get("/jobs/?size=2&%66ormat=json", headers={**HTML, **admin_headers})
    assert response.status_code == 200 and response.mimetype == "application/json"
    bad = client.get("/jobs/?%66ormat=xml", headers=admin_headers)
    assert bad.status_code == 400 and list(bad.get_json()["errors"]) == ["format"]


def test_html_pages_are_conditional(client):
    tag = browse(client, "/").headers["ETag"]
    again = client.get("/", headers={**HTML, "If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("scheme", ["Bearer", "Token"])
def test_curl_command_never_shows_credentials(client, make_account, token_for, scheme):
    headers = token_for(make_account(), scheme=scheme)
    secret = headers["Authorization"].split(" ", 1)[1]
    response = browse(client, "/jobs/", headers)
    curl = page(response).select_one("#curl").get_text()
    assert secret.encode() not in response.data
    expected = (
        f"-H 'Accept: application/hal+json' -H \"Authorization: {scheme} $TOKEN\" http://localhost/jobs/"
    )
    assert curl == "curl -i " + expected


def test_basic_credentials_never_appear_in_the_page(client, make_account):
    import base64

    account = make_account(password="s3cret-pass-word")
    basic = base64.b64encode(f"{account.email}:s3cret-pass-word".encode()).decode()
    response = browse(client, "/jobs/", {"Authorization": f"Basic {basic}"})
    assert (
        response.status_code == 200 and b"s3cret" not in response.data and basic.encode() not in response.data
    )
    assert '-u "$LOGIN:$PASSWORD"' in page(response).select_one("#curl").get_text()
    assert account.email in page(response).select_one(".auth .who").get_text()


@pytest.mark.fresh_app
def test_every_parameterless_get_route_of_every_domain_renders_a_page(app, widgets, client, admin_headers):
    """Generic over the url_map, so each domain merged later is covered without a line here."""
    paths = sorted(
        r.rule
        for r in app.url_map.iter_rules()
        if "GET" in r.methods
        and not r.arguments
        and not r.endpoint.endswith("static")
        and r.endpoint not in ("openapi.spec", "apidocs.viewer")  # the description; Swagger UI's page
    )
    assert "/jobs/" in paths and "/" in paths
    for path in paths:
        response = browse(client, path, admin_headers)
        expected_5xx = (
            path == "/api/health/" and response.status_code == 503
        )  # no worker in this test: by design
        assert response.status_code < 500 or expected_5xx, path
        if response.mimetype != "text/html":  # not a HAL resource (e.g. Prometheus /metrics): no page
            assert not response.mimetype.endswith("json"), path
            continue
        soup = page(response)
        assert soup.select_one("section.request p.status")["data-status"] == str(response.status_code), path
        assert soup.select_one("#raw") is not None, path


def test_pages_vary_on_authorization_so_browser_caches_never_mix_visitors(client, admin_headers):
    anonymous = browse(client, "/")
    signed_in = browse(client, "/", admin_headers)
    assert {"Accept", "Authorization"} <= set(anonymous.headers["Vary"].replace(" ", "").split(","))
    assert b"Signed in as" not in anonymous.data and b"Signed in as" in signed_in.data
    assert "Authorization" not in client.get("/").headers["Vary"]  # JSON is the same for everyone at /


def header(response):
    auth = page(response).select_one("header .auth")
    return {
        "who": auth.select_one(".who").get_text(" ", strip=True) if auth.select_one(".who") else None,
        "sign_in": auth.select_one("details.signin form#signin-token") is not None,
        "sign_out": auth.select_one("button#signout") is not None,
    }


def test_header_shows_sign_out_when_signed_in_and_sign_in_otherwise_even_on_a_404(
    client, make_account, token_for
):
    admin = make_account(type="ADMIN", email="head@example.org")
    admin_headers = token_for(admin)
    anonymous = {"who": None, "sign_in": True, "sign_out": False}
    assert header(browse(client, "/")) == anonymous
    assert header(browse(client, "/no/such/path")) == anonymous
    for path in ("/", "/jobs/", "/no/such/path", "/jobs/00000000-0000-0000-0000-000000000000"):
        response = browse(client, path, admin_headers)
        signed_in = {"who": "Signed in as head@example.org", "sign_in": False, "sign_out": True}
        assert header(response) == signed_in, (path, response.status_code)
    wrong = browse(client, "/no/such/path", {"Authorization": "Bearer hy_not-a-token"})
    assert wrong.status_code == 404 and header(wrong) == anonymous


def test_form_fields_are_labelled_by_name_with_the_prompt_as_a_hint_and_a_place_for_errors(
    client, admin_headers
):
    response = browse(client, "/api/v1/objects/", admin_headers)
    templates = client.get(
        "/api/v1/objects/", headers={**admin_headers, "Accept": "application/prs.hal-forms+json"}
    )
    prompts = {
        (name, p["name"]): p.get("prompt")
        for name, tpl in templates.get_json()["_templates"].items()
        for p in tpl["properties"]
    }
    assert any(prompts.values())  # the page has at least one prompt to show
    fields = page(response).select("form.hal-form .prop[data-field]")
    assert len(fields) == len(prompts)
    for box in fields:
        form, name = box.find_parent("form")["data-name"], box["data-field"]
        label = box.select_one("label.name")
        assert label.get_text().rstrip(" *") == name
        assert box.find(id=label["for"])["name"] == name  # the label belongs to its input
        hint = box.select_one(".hint")
        assert (hint.get_text() if hint else None) == prompts[(form, name)]  # whole, never cut
        assert box.select_one(".field-error[hidden]") is not None


def test_documentation_viewer_is_linked_as_service_doc_and_served_locally(client):
    root = client.get("/").get_json()
    href = root["_links"]["service-doc"]["href"]
    assert href == "http://localhost/_browsable/api-docs"
    response = browse(client, href)
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = {d.strip() for d in response.headers["Content-Security-Policy"].split(";")}
    assert {
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
    } <= csp
    soup = page(response)
    scripts = [s["src"] for s in soup.find_all("script")]
    assert scripts == ["/_browsable/swagger-ui/swagger-ui-bundle.js", "/_browsable/static/api-docs.js"]
    assert not soup.find("script", src=None) and not soup.find("style")  # nothing inline
    assert soup.select_one("#swagger-ui")["data-spec"] == "http://localhost/openapi.json"
    for asset in scripts + [link["href"] for link in soup.find_all("link", rel="stylesheet")]:
        served = client.get(asset)
        assert served.status_code == 200 and served.data, asset
    assert b"SwaggerUIBundle" in client.get(scripts[0]).data
    as_hal = client.get(href)  # a HAL client gets a document pointing at the description
    assert as_hal.mimetype == "application/hal+json"
    assert as_hal.get_json()["_links"]["service-desc"]["href"] == "http://localhost/openapi.json"


def test_relation_pages_show_methods_properties_templates_and_the_collection_grammar(client):
    jobs = page(browse(client, "/rels/jobs")).select_one("section.relation")
    assert [c.get_text() for c in jobs.select(".methods code.method-badge")] == ["GET"]
    assert jobs.select(".methods a")[-1]["href"] == "http://localhost/jobs/"  # where / links it
    grammar = {
        tr["data-name"]: [td.get_text() for td in tr.find_all("td")]
        for tr in jobs.select("table.rel-grammar tr[data-name]")
    }
    assert (
        grammar["status"][1] == "enum" and "failed" in grammar["status"][4] and grammar["status"][2] == "= !="
    )
    assert grammar["created"][1:4] == ["datetime", "from to", "yes"]
    assert jobs.find("a", class_="rel", string="ec:job")["href"] == "http://localhost/rels/job"
    job = page(browse(client, "/rels/job")).select_one("section.relation")
    assert job.find("a", class_="rel", string="ec:jobs")["href"] == "http://localhost/rels/jobs"  # listed in

    user = page(browse(client, "/rels/user")).select_one("section.relation")
    assert [c.get_text() for c in user.select("code.method-badge")] == ["GET", "PATCH"]
    props = {
        tr["data-name"]: [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        for tr in user.select("table.rel-props tr[data-name]")
    }
    assert set(props) == {"username", "type", "active"}
    assert props["active"][1] == "checkbox"


def test_generic_columns_and_cells_for_a_rel_without_a_preference():
    from app.browsable.page import cell, generic_columns

    items = [
        {"sha256": "ab" * 32, "note": "x", "size": 8, "name": "a.csv", "created": "2026-01-02T03:04:05.678Z"},
        {"sha256": "cd" * 32, "note": None, "size": 2_500_000, "name": "b.csv", "tags": ["t1", "t2"]},
    ]
    assert generic_columns(items) == ["name", "created", "size", "sha256", "note", "tags"]
    assert cell("size", 2_500_000) == {"text": "2.5 MB", "title": "2500000 bytes", "kind": "num"}
    assert cell("created", "2026-01-02T03:04:05.678Z")["text"] == "2026-01-02 03:04"
    assert cell("tags", ["t1", "t2"])["text"] == "t1, t2" and cell("files", [{}, {}])["text"] == "2 items"
    assert cell("active", False)["text"] == "no" and cell("note", None)["text"] == "—"


def test_filter_form_without_a_declared_collection_reads_operators_from_the_variables(app):
    from app.browsable.page import grammar_form, template_variables

    href = "http://localhost/things/{?page,size,sort,title,title%21,title%7E,createdFrom,createdTo}"
    row = {"rel": "ec:things/options", "href": href, "templated": True, "variables": template_variables(href)}
    with app.test_request_context("/things/?title%21=x&createdFrom=2026-01-01&createdTo=2026-02-01"):
        grammar = grammar_form([row])
    fields = {f["name"]: f for f in grammar["fields"]}
    assert set(fields) == {"title", "created"}  # each field once, not once per suffix
    assert [op for op, _ in fields["title"]["ops"]] == ["eq", "ne", "contains"]
    assert (fields["title"]["op"], fields["title"]["value"], fields["title"]["type"]) == ("ne", "x", "text")
    assert fields["title"]["vars"] == {"eq": "title", "ne": "title%21", "contains": "title%7E"}
    assert [op for op, _ in fields["created"]["ops"]] == ["from", "to", "between"]
    assert (fields["created"]["op"], fields["created"]["value"], fields["created"]["value2"]) == (
        "between",
        "2026-01-01",
        "2026-02-01",
    )
    assert grammar["sortable"] == [] and grammar["sort_var"] == "sort"


def test_the_filter_form_offers_exactly_the_grammars_operators_and_a_new_one_shows_up(
    app, client, monkeypatch
):
    """app/hal/grammar.py OPERATORS is the one home of the operators: the form, the relation page's
    grammar table and its hint read it, so an operator added there is offered without touching page.py."""
    from app.browsable.page import _grammar_rows, form_operators, grammar_form, template_variables
    from app.hal import grammar
    from app.resources.accounts.users import users_collection

    assert list(form_operators()) == ["eq", *(o.op for o in grammar.OPERATORS), "between"]
    like = grammar.Operator("like", "Like", "like", lambda f: f.type == "str", "A LIKE pattern.", "≈")
    monkeypatch.setattr(grammar, "OPERATORS", (*grammar.OPERATORS, like))
    assert form_operators()["like"] == ("≈", "Like")

    href = "http://localhost/things/{?page,size,sort,title,title%21,title%7E,titleLike,createdFrom,createdTo}"
    row = {"rel": "ec:things/options", "href": href, "templated": True, "variables": template_variables(href)}
    with app.test_request_context("/things/?titleLike=a%25"):
        grammar_ = grammar_form([row])
    fields = {f["name"]: f for f in grammar_["fields"]}
    assert set(fields) == {"title", "created"}  # titleLike counts for title, not as a field of its own
    assert fields["title"]["ops"] == [("eq", "="), ("ne", "!="), ("contains", "~="), ("like", "≈")]
    assert fields["title"]["vars"]["like"] == "titleLike"
    assert (fields["title"]["op"], fields["title"]["value"]) == ("like", "a%")

    rows = {r["name"]: r["ops"] for r in _grammar_rows(users_collection)}
    assert rows["email"] == [
        "=",
        *(o.symbol for o in grammar.OPERATORS if o.applies(users_collection.fields["email"])),
    ]
    assert "≈" in rows["email"] and "≈" not in rows["id"]  # the operator's own rule says where it applies

    hint = page(browse(client, "/rels/users")).select_one("section.relation p.hint").get_text(" ", strip=True)
    assert [f"prop{o.suffix}" in hint for o in grammar.OPERATORS] == [True] * len(grammar.OPERATORS)
    assert "propLike like" in hint


def test_a_top_level_list_of_objects_is_a_table(client):
    soup = page(browse(client, "/rels/"))
    table = soup.select_one("section.resource table.props tr.wide table.items")
    columns = [th["data-key"] for th in table.select("thead th")]
    assert columns[0] == "title" and {"rel", "curie", "description", "methods"} <= set(columns)
    rows = table.select("tbody tr.item")
    assert len(rows) > 20
    rel = columns.index("rel")
    assert "jobs" in [row.find_all("td")[rel].get_text() for row in rows]
