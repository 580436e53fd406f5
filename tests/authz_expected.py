"""The expectations of the URL-map authorization test (tests/test_authorization_map.py): who may call
every endpoint and method of the app, and the body the allowed caller sends. A new route needs a line here."""

import io

from tests.authz_world import SCHEMA, data, png

PUBLIC, SIGNED_IN, OWNER, ADMIN = "public", "signed-in", "owner", "admin"


class Form:
    """A multipart body: ``make(ids)`` gives the form fields and files (fresh streams on every call)."""

    def __init__(self, make):
        self.make = make


SCRIPT = Form(lambda ids: {"script": (io.BytesIO(b"def run(table):\n    return table\n"), "tidy.py")})
PICTURE = Form(lambda ids: {"file": [(io.BytesIO(png()), "more.png", "image/png")]})


# (endpoint, method) -> (who may call it, body: None, a JSON value, or a callable giving multipart form data)
EXPECTED = {
    ("root.index", "GET"): (PUBLIC, 200),
    ("root.rels", "GET"): (PUBLIC, 200),
    ("root.rel", "GET"): (PUBLIC, 200),
    ("root.problem", "GET"): (PUBLIC, 200),
    ("openapi.spec", "GET"): (PUBLIC, 200),
    ("static", "GET"): (PUBLIC, 404),  # no app/static files
    ("browsable.static", "GET"): (PUBLIC, 200),
    ("apidocs.viewer", "GET"): (PUBLIC, 200),
    ("apidocs.static", "GET"): (PUBLIC, 200),
    # seed 000's device-style sign-in: public by design (docs/accounts.md)
    ("accounts.create_auth_request", "POST"): (PUBLIC, 201),
    ("accounts.get_auth_request", "GET"): (PUBLIC, 200),
    ("accounts.authenticate_ui", "GET"): (PUBLIC, 200),
    ("accounts.attach_account", "POST"): (PUBLIC, 400),
    ("accounts.create_auth_token", "POST"): (PUBLIC, 400),
    # the OpenID Connect sign-in's start and callback (docs/accounts.md): public, like the page they serve
    ("accounts.oidc_start", "GET"): (PUBLIC, 404),  # no provider configured in this test
    ("accounts.oidc_callback", "GET"): (PUBLIC, 400),  # no state/code
    ("accounts.me", "GET"): (SIGNED_IN, None),
    ("accounts.list_users", "GET"): (SIGNED_IN, None),
    ("accounts.get_user", "GET"): (SIGNED_IN, None),
    ("accounts.update_user", "PATCH"): (ADMIN, {"active": True}),
    ("accounts.change_password", "POST"): (
        OWNER,
        {"current_password": "correct horse battery", "new_password": "another long one"},
    ),
    ("accounts.list_tokens", "GET"): (OWNER, None),
    ("accounts.issue_token", "POST"): (OWNER, {"name": "t"}),
    ("accounts.get_token", "GET"): (OWNER, None),
    ("accounts.revoke_token", "DELETE"): (OWNER, None),
    ("accounts.create_user_token", "POST"): (ADMIN, {"email": "someone@example.org"}),
    ("accounts.list_groups", "GET"): (SIGNED_IN, None),
    ("accounts.get_group", "GET"): (SIGNED_IN, None),
    ("accounts.create_group", "POST"): (ADMIN, {"name": "new"}),
    ("accounts.rename_group", "PUT"): (ADMIN, {"name": "renamed"}),
    ("accounts.delete_group", "DELETE"): (ADMIN, None),
    ("accounts.add_member", "POST"): (ADMIN, lambda ids: {"user_id": ids["outsider_id"]}),
    ("accounts.remove_member", "DELETE"): (ADMIN, None),
    ("health.get", "GET"): (SIGNED_IN, None),
    ("health.live", "GET"): (PUBLIC, 200),  # for load balancers: up/down only (docs/operations.md)
    ("health.ready", "GET"): (PUBLIC, 200),
    ("health.probe", "POST"): (ADMIN, None),
    ("jobs.index", "GET"): (SIGNED_IN, None),
    ("jobs.get", "GET"): (OWNER, None),
    ("objects.actions_index", "GET"): (SIGNED_IN, None),
    ("objects.actions_create", "POST"): (SIGNED_IN, {"type": "sample", "name": "B", "schema": SCHEMA}),
    ("objects.action_get", "GET"): (SIGNED_IN, None),
    ("objects.action_put", "PUT"): (OWNER, {"type": "sample", "name": "A2", "schema": SCHEMA}),
    ("objects.objects_index", "GET"): (SIGNED_IN, None),
    ("objects.objects_create", "POST"): (
        SIGNED_IN,
        lambda ids: {"action_id": ids["action_id"], "data": data()},
    ),
    ("objects.object_get", "GET"): (OWNER, None),
    ("objects.versions_index", "GET"): (OWNER, None),
    ("objects.versions_create", "POST"): (OWNER, {"data": data("next")}),
    ("objects.version_get", "GET"): (OWNER, None),
    ("objects.permissions_get", "GET"): (OWNER, None),
    ("objects.public_get", "GET"): (OWNER, None),
    ("objects.public_put", "PUT"): (OWNER, True),
    ("objects.users_index", "GET"): (OWNER, None),
    ("objects.user_get", "GET"): (OWNER, None),
    ("objects.user_put", "PUT"): (OWNER, "read"),
    ("objects.groups_index", "GET"): (OWNER, None),
    ("objects.group_get", "GET"): (OWNER, None),
    ("objects.group_put", "PUT"): (OWNER, "read"),
    ("datasources.projects", "GET"): (SIGNED_IN, None),
    ("datasources.create_project", "POST"): (SIGNED_IN, {"title": "New"}),
    ("datasources.get_project", "GET"): (OWNER, None),
    ("datasources.update_project", "PUT"): (OWNER, {"title": "R"}),
    ("datasources.delete_project", "DELETE"): (OWNER, None),
    ("datasources.project_sources", "GET"): (OWNER, None),
    ("datasources.sources", "GET"): (SIGNED_IN, None),
    ("datasources.create_source", "POST"): (
        SIGNED_IN,
        Form(
            lambda ids: {
                "name": "new",
                "project": str(ids["project_id"]),
                "type": "file",
                "file": (io.BytesIO(b"a,b\n1,2\n"), "d.csv"),
            }
        ),
    ),
    ("datasources.get_source", "GET"): (OWNER, None),
    ("datasources.update_source", "PUT"): (OWNER, {"name": "r", "type": "file"}),
    ("datasources.delete_source", "DELETE"): (OWNER, None),
    ("datasources.source_file", "GET"): (OWNER, None),
    ("datasources.source_preview", "GET"): (OWNER, None),
    ("datasources.source_table", "GET"): (OWNER, None),
    ("datasources.scripts", "GET"): (OWNER, None),
    ("datasources.get_script", "GET"): (OWNER, None),
    ("datasources.script_upload", "POST"): (OWNER, SCRIPT),
    ("datasources.delete_script", "DELETE"): (OWNER, None),
    ("datasources.start_run", "POST"): (OWNER, {"steps": [{"key": "builtin:fill_nulls", "exec_order": 1}]}),
    ("datasources.runs", "GET"): (OWNER, None),
    ("datasources.get_run", "GET"): (OWNER, None),
    ("datasources.run_result", "GET"): (OWNER, None),
    ("datasources.run_preview", "GET"): (OWNER, None),
    ("datasources.run_table", "GET"): (OWNER, None),
    ("scheduler.index", "GET"): (SIGNED_IN, None),
    ("scheduler.create", "POST"): (
        SIGNED_IN,
        {"endpoint": "http://127.0.0.1:9/x", "interval_definition": "1 hours"},
    ),
    ("scheduler.get", "GET"): (OWNER, None),
    ("scheduler.update", "PUT"): (OWNER, {"payload": {"b": 2}}),
    ("scheduler.delete", "DELETE"): (OWNER, None),
    ("scheduler.deliveries", "GET"): (OWNER, None),
    ("scheduler.delivery", "GET"): (OWNER, None),
    ("scheduler.failed_tasks", "GET"): (SIGNED_IN, None),
    ("scheduler.failed_task", "GET"): (OWNER, None),
    ("scheduler.requeue", "POST"): (SIGNED_IN, {}),  # another user's tasks: test_requeue_leaves_others_tasks
    ("scheduler.metrics", "GET"): (SIGNED_IN, None),  # the keys (seed 003); values for ADMINs
    ("scheduler.fire_metrics", "POST"): (SIGNED_IN, None),
    ("scheduler.prometheus", "GET"): (ADMIN, None),
    ("catalogue.index", "GET"): (SIGNED_IN, None),
    ("catalogue.get", "GET"): (SIGNED_IN, None),
    ("catalogue.create", "POST"): (ADMIN, {"name": "new", "executor_type": "DATABRICKS", "spec": []}),
    ("catalogue.update", "PUT"): (ADMIN, {"name": "renamed", "executor_type": "DATABRICKS", "spec": []}),
    ("catalogue.delete", "DELETE"): (ADMIN, None),
    ("catalogue.compute_spec", "POST"): (ADMIN, None),
    ("downloader.index", "GET"): (SIGNED_IN, None),
    ("downloader.create", "POST"): (SIGNED_IN, {}),
    ("downloader.estimate", "POST"): (SIGNED_IN, {}),
    ("downloader.render_ui_data", "POST"): (SIGNED_IN, {}),
    ("downloader.get", "GET"): (OWNER, None),
    ("downloader.delete", "DELETE"): (OWNER, None),
    ("downloader.file", "GET"): (OWNER, None),
    ("datamanager.index", "GET"): (SIGNED_IN, None),
    ("datamanager.create", "POST"): (SIGNED_IN, {"title": "Another"}),
    ("datamanager.get", "GET"): (OWNER, None),
    ("datamanager.update", "PUT"): (OWNER, {"title": "Renamed"}),
    ("datamanager.members", "GET"): (OWNER, None),
    ("datamanager.add_member", "POST"): (OWNER, lambda ids: {"accountID": ids["outsider_id"], "rights": []}),
    ("datamanager.member", "GET"): (OWNER, None),
    ("datamanager.update_member", "PUT"): (OWNER, {"rights": ["editAssets"]}),
    ("datamanager.delete_member", "DELETE"): (OWNER, None),
    ("datamanager.assets", "GET"): (OWNER, None),
    ("datamanager.upload", "POST"): (OWNER, PICTURE),
    ("datamanager.asset", "GET"): (OWNER, None),
    ("datamanager.update_asset", "PUT"): (OWNER, {"title": "t"}),
    ("datamanager.add_file", "POST"): (OWNER, PICTURE),
    ("datamanager.delete_asset", "DELETE"): (OWNER, None),
    ("datamanager.file", "GET"): (OWNER, None),
    ("datamanager.deleted_assets", "GET"): (OWNER, None),
    ("datamanager.deleted_asset", "GET"): (OWNER, None),
    ("datamanager.restore_or_destroy", "DELETE"): (OWNER, None),
}
# What another signed-in account gets from an OWNER route: 404 hides that the thing exists, except
# - seed 001 (iffSamples, docs/objects.md): an existing object on which the caller lacks READ (the
#   object, its versions, its permissions), WRITE (a new version) or GRANT is 403, and so is PUT on a
#   visible action they did not create; an object id that does not exist is 404;
# - a user's own password: every signed-in account sees the users directory, so 403 hides nothing.
FORBIDDEN_NOT_HIDDEN = ("objects.", "accounts.change_password")
REFUSED_WITH = {
    (endpoint, method): 403 if endpoint.startswith(FORBIDDEN_NOT_HIDDEN) else 404
    for (endpoint, method), (kind, _) in EXPECTED.items()
    if kind == OWNER
}
# URL variables whose value is not the world's same-named id
VARIABLES = {
    ("datamanager.deleted_asset", "asset_id"): "gone_id",
    ("datamanager.restore_or_destroy", "asset_id"): "gone_id",
    ("datamanager.member", "account_id"): "member_id",
    ("datamanager.update_member", "account_id"): "member_id",
    ("datamanager.delete_member", "account_id"): "member_id",
    ("accounts.remove_member", "user_id"): "user_id",
    ("apidocs.static", "filename"): "swagger_file",
}
FIXED = {
    "rel": "projects",
    "event": "COULD_NOT_FIND_AUTH_TOKEN",
    "filename": "browsable.css",
    "swagger_file": "swagger-ui.css",
}
