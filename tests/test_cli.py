"""``halyard create-admin``: interactive and non-interactive; ``halyard start`` refusing a busy instance."""

import os
import socket

import pytest

from app.resources.accounts.models import Account


def test_create_admin_non_interactive_with_token(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-admin", "--email", "Root@Example.org", "--token"],
        env={"HALYARD_ADMIN_PASSWORD": "long enough pw"},
    )
    assert result.exit_code == 0, result.output
    account = Account.find_login("root@example.org")
    assert account.is_admin and account.check_password("long enough pw")
    token = result.output.split("token: ")[1].strip()
    assert client.get("/jobs/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "long enough pw" not in result.output


def test_create_admin_prompts_for_the_password(app):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "a@example.org"],
        input="pw-12345678\npw-12345678\n",
        env={"HALYARD_ADMIN_PASSWORD": None},
    )
    assert result.exit_code == 0, result.output
    assert Account.find_login("a@example.org").check_password("pw-12345678")


def test_create_admin_refuses_duplicates_and_short_passwords(app, make_account):
    existing = make_account()
    runner = app.test_cli_runner()
    duplicate = runner.invoke(
        args=["create-admin", "--email", existing.email], env={"HALYARD_ADMIN_PASSWORD": "long enough pw"}
    )
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    short = runner.invoke(
        args=["create-admin", "--email", "b@example.org"], env={"HALYARD_ADMIN_PASSWORD": "short"}
    )
    assert short.exit_code != 0 and Account.find_login("b@example.org") is None


@pytest.mark.parametrize("config_overrides", [{"REDIS_URL": None}])
def test_start_refuses_an_instance_whose_embedded_redis_runs_already(app):
    from app.jobs import embedded

    path = embedded.socket_path(app.instance_path)
    with socket.socket(socket.AF_UNIX) as other:  # a server that another `halyard start` would run
        other.bind(path)
        other.listen()
        try:
            result = app.test_cli_runner().invoke(args=["start", "--port", "1"])
        finally:
            os.unlink(path)
    assert result.exit_code == 1 and "already listens on" in result.output and path in result.output
