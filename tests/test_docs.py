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
    assert "pip install -q -e '.[dev]'" in script and "npm ci" in script and ".ci/apt-packages" in script
