"""Run one of the Ketting scripts here with Node and return the JSON summary it prints last."""

import json
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def run_ketting(script, *args, timeout=120):
    node = shutil.which("node")
    assert node, "Node.js is required (CI installs it with the machine; see docs/browsable.md)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "ketting")), (
        "run `npm ci` in tests/clients (.ci/run does) to install Ketting from package-lock.json"
    )
    done = subprocess.run([node, script, *args], cwd=HERE, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
