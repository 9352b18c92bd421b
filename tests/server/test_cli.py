"""The server's commands, on both back-ends: ``tfhub publisher``, ``tfhub token``
(create / list / revoke), ``tfhub publish`` (folders and archives, README, tags, errors,
the token never printed), ``tfhub server migrate | gc``. ``tfhub serve``: test_serve.py."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from server.conftest import Models
from server.hubtest import Hub
from tfhub.cli.main import cli

pytestmark = pytest.mark.timeout(120)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def db_args(hub: Hub) -> list[str]:
    return ["--database", hub.hub.settings.database_url]


def test_publishers_and_tokens(hub: Hub) -> None:
    code, out, _ = run("publisher", "create", "cli-lab", "--private", *db_args(hub))
    assert code == 0 and "cli-lab (private)" in out
    code, out, _ = run("publisher", "list", *db_args(hub))
    assert code == 0 and "cli-lab\tprivate" in out
    code, token, err = run(
        "token", "create", "--publisher", "cli-lab", "--name", "ci", *db_args(hub)
    )
    token = token.strip()
    assert code == 0 and token.startswith("tfhub_") and "shown only now" in err
    code, out, _ = run("token", "list", *db_args(hub))
    assert code == 0 and "cli-lab\tci" in out and token not in out
    token_id = next(line.split("\t")[0] for line in out.splitlines() if "\tci\t" in line)
    with hub.client(token) as client:
        assert client.get("/api/v1/publishers/cli-lab").status_code == 200
    assert run("token", "revoke", token_id, *db_args(hub))[0] == 0
    with hub.client(token) as client:
        assert client.get("/api/v1/publishers/cli-lab").status_code == 401
    code, _, err = run("token", "revoke", token_id, *db_args(hub))
    assert code == 1 and "No token with id" in err


def test_publish_a_folder_and_an_archive(hub: Hub, models: Models, tmp_path: Path) -> None:
    token = run("token", "create", "--publisher", "cli", *db_args(hub))[1].strip()
    readme = tmp_path / "README.md"
    readme.write_text("# Encoder\n\nFrom the command line.\n")
    code, out, err = run(
        "publish", str(models.tf2_v1), "cli/encoder", "--readme", str(readme), "--tag", "cli",
        "--server", hub.url, "--token", token,
    )  # fmt: skip
    assert code == 0, err
    assert f"handle: {hub.url}/cli/encoder/1" in out
    assert token not in out + err
    detail = httpx.get(f"{hub.url}/api/v1/models/cli/encoder/versions/1").json()
    assert detail["description"] == "From the command line." and detail["tags"] == ["cli"]
    env = {"TFHUB_TOKEN": token, "TFHUB_SERVER_URL": hub.url}
    code, out, err = run("publish", str(models.archive("tf1")), "cli/encoder/7", env=env)
    assert code == 0, err
    assert "published cli/encoder/7" in out
    assert httpx.get(f"{hub.url}/api/v1/models/cli/encoder").json()["latest_version"] == 7


def test_publish_errors_are_one_clear_line(hub: Hub, models: Models, tmp_path: Path) -> None:
    token = run("token", "create", "--publisher", "cli-errors", *db_args(hub))[1].strip()
    base = ["--server", hub.url, "--token", token]
    assert run("publish", str(models.tf2_v1), "cli-errors/m/1", *base)[0] == 0
    code, _, err = run("publish", str(models.tf2_v1), "cli-errors/m/1", *base)
    assert code == 1 and "error: The hub refused the upload (409)" in err and "immutable" in err
    code, _, err = run("publish", str(models.tf2_v1), "someone/m", *base)
    assert code == 1 and "(403)" in err and token not in err
    (tmp_path / "empty").mkdir()
    code, _, err = run("publish", str(tmp_path / "empty"), "cli-errors/m", *base)
    assert code == 1 and "Not a model" in err
    code, _, err = run("publish", str(models.tf2_v1), "cli-errors/m", "--server", hub.url)
    assert code == 1 and "needs a token" in err
    code, _, err = run("publish", str(models.tf2_v1), "Bad/m", *base)
    assert code == 1 and "Invalid publisher name" in err


def test_server_migrate_and_gc(hub: Hub) -> None:
    code, out, _ = run("server", "migrate", *db_args(hub))
    assert code == 0 and "revision 0001" in out
    code, out, _ = run(
        "server", "gc", "--dry-run", *db_args(hub), "--storage", hub.hub.settings.storage_url
    )
    assert code == 0 and "would remove 0" in out


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["serve"], r"--workers INTEGER RANGE\s+Server processes.\s+\[default: 1;"),
        (["token", "list"], r"--publisher TEXT\s+Only the tokens of this publisher."),
        (["publisher", "create"], r"--description TEXT\s+One line about the publisher"),
        (["server", "gc"], r"--older-than HOURS\s+Only leftovers older than HOURS"),
    ],
)
def test_help_describes_every_option(command: list[str], says: str) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and re.search(says, out), out
