"""The WSGI entry point (wsgi.py) builds the app without Flask-Migrate and freezes what it built."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_entry_point_builds_the_app_then_freezes_it_out_of_the_collectors_walk(tmp_path):
    script = (
        "import gc, sys; before = gc.get_freeze_count(); import wsgi; "
        "print(before, gc.get_freeze_count(), 'migrate' in wsgi.app.extensions, type(wsgi.app).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYARD_", "DATABASE_URL", "REDIS_URL"))}
    env.update(HALYARD_INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, migrate, kind = out.stdout.split()
    assert int(before) == 0 and int(after) > 10_000  # the app's objects, frozen after it was built
    assert migrate == "False" and kind == "Halyard"
