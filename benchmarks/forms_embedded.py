"""What embedded ``_templates`` cost a list (issue 19; run by hand, not in CI).

    python benchmarks/forms_embedded.py [--items 100] [--n 300]

Seeds ``--items`` actions (each offers its owner a PUT template) in a fresh SQLite database, then calls
the WSGI app in process (benchmarks/datamanager_profile.py's ``call``) for one page of them
(``/api/v1/actions/?size=<items>``) and prints the median CPU time per request (``time.process_time``,
so other processes' load does not count) of:

    json        application/hal+json: no templates are built or rendered (the baseline)
    forms-bare  application/prs.hal-forms+json with the items' templates switched off (what HAL-FORMS
                cost before the items carried theirs)
    forms       application/prs.hal-forms+json: every item with its templates

and each one's ratio to ``json``, all measured in the same run.
"""

import argparse
import os
import sys
import tempfile
import time
from statistics import median
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.datamanager_profile import call  # noqa: E402

SCHEMA = {
    "title": "B",
    "type": "object",
    "properties": {"name": {"title": "N", "type": "text"}},
    "required": ["name"],
}


def build(items, folder):
    import flask_migrate

    from app import create_app
    from app.extensions import db
    from app.resources.accounts.models import Account
    from app.resources.objects.models import Action

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "SECRET_KEY": "bench",
            "HALYARD_RATE_LIMIT_ENABLED": False,
            "HALYARD_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        },
        instance_path=folder,
    )
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        owner = Account(email="bench@example.org", username="bench", type="RESEARCHER", active=True)
        db.session.add(owner)
        db.session.flush()
        for i in range(items):
            db.session.add(Action(type="sample", name=f"action {i}", schema=SCHEMA, user_id=owner.id))
        _, secret = owner.issue_token()
        db.session.commit()
    return app, secret


def cpu_per_call(app, path, headers, n):
    samples = []
    for _ in range(max(n // 20, 3)):
        t0 = time.process_time()
        for _ in range(20):
            status, _ = call(app, path, headers)
        samples.append((time.process_time() - t0) / 20)
    assert status.startswith("200"), status
    return median(samples)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app, secret = build(args.items, folder)
        path = f"/api/v1/actions/?size={args.items}"
        auth = {"Authorization": f"Bearer {secret}"}
        json_hal = {**auth, "Accept": "application/hal+json"}
        forms = {**auth, "Accept": "application/prs.hal-forms+json"}
        for headers in (json_hal, forms):
            cpu_per_call(app, path, headers, 40)  # warm up (statement compilation, first imports)
        results = {"json": cpu_per_call(app, path, json_hal, args.n)}
        with mock.patch("app.resources.objects.actions.wants_templates", return_value=False):
            results["forms-bare"] = cpu_per_call(app, path, forms, args.n)
        results["forms"] = cpu_per_call(app, path, forms, args.n)
        _, body = call(app, path, forms)
        assert body.count(b'"_templates"') == args.items + 1, "every item carries its templates"
    print(f"one page of {args.items} actions, median CPU per request ({args.n} calls each)")
    for name, seconds in results.items():
        print(f"{name:11} {seconds * 1000:8.2f} ms   x{seconds / results['json']:.2f} of json")
    print(f"items' templates add x{results['forms'] / results['forms-bare']:.2f} to a HAL-FORMS page")


if __name__ == "__main__":
    main()
