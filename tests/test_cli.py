"""``halyard create-admin``: interactive and non-interactive."""
from app.resources.accounts.models import Account


def test_create_admin_non_interactive_with_token(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "--email", "Root@Example.org", "--token"],
                           env={"HALYARD_ADMIN_PASSWORD": "long enough pw"})
    assert result.exit_code == 0, result.output
    account = Account.find_login("root@example.org")
    assert account.is_admin and account.check_password("long enough pw")
    token = result.output.split("token: ")[1].strip()
    assert client.get("/jobs/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "long enough pw" not in result.output


def test_create_admin_prompts_for_the_password(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "a@example.org"],
                                          input="pw-12345678\npw-12345678\n", env={"HALYARD_ADMIN_PASSWORD": None})
    assert result.exit_code == 0, result.output
    assert Account.find_login("a@example.org").check_password("pw-12345678")


def test_create_admin_refuses_duplicates_and_short_passwords(app, make_account):
    existing = make_account()
    runner = app.test_cli_runner()
    duplicate = runner.invoke(args=["create-admin", "--email", existing.email],
                              env={"HALYARD_ADMIN_PASSWORD": "long enough pw"})
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    short = runner.invoke(args=["create-admin", "--email", "b@example.org"], env={"HALYARD_ADMIN_PASSWORD": "short"})
    assert short.exit_code != 0 and Account.find_login("b@example.org") is None
