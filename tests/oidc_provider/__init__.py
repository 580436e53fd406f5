"""The test OpenID Connect provider (server.py) as a real process on 127.0.0.1, and its controls."""

import os
import select
import subprocess
import sys

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ProviderProcess:
    """``python -m tests.oidc_provider.server`` on a free port; ``issuer`` is its base URL."""

    def __init__(self, client_id, client_secret, timeout=60):
        self.client_id, self.client_secret = client_id, client_secret
        env = {**os.environ, "PYTHONPATH": ROOT}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.oidc_provider.server",
                "--client-id",
                client_id,
                "--client-secret",
                client_secret,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the test OIDC provider did not start: {line!r}")
        self.issuer = f"http://127.0.0.1:{int(line.split()[1])}"

    def configure(self, **settings):
        """user={...}, redirect_uris=[...], misbehave=None|"nonce"|"expired"|..., clear_log=True."""
        response = requests.post(self.issuer + "/_test/config", json=settings, timeout=10)
        response.raise_for_status()

    def log(self):
        return requests.get(self.issuer + "/_test/log", timeout=10).json()

    def code_without_pkce(self, redirect_uri, nonce=None):
        response = requests.post(
            self.issuer + "/_test/code-without-pkce",
            json={"redirect_uri": redirect_uri, "nonce": nonce},
            timeout=10,
        )
        return response.json()["code"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
