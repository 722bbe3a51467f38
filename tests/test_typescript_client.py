"""The committed TypeScript types are what the schema generates today, and they compile.

Needs Node.js and npm (CI installs them, see .ci/run); the npm packages, pinned in
clients/typescript/package-lock.json, install into a gitignored folder on first use.
"""

import fcntl
import shutil

import pytest
from django.core.management import CommandError, call_command

from fitness.management.commands import typescript_client

pytestmark = pytest.mark.skipif(
    not (shutil.which("node") and shutil.which("npm")),
    reason="Node.js and npm are not installed (apt-get install nodejs npm; .ci/run does)",
)


@pytest.fixture(scope="module")
def generated_types(tmp_path_factory) -> str:
    """The types the schema generates (a schema-rendering process and openapi-typescript,
    tens of seconds), generated once for both tests: they differ in the committed file.

    Two pytest-xdist workers may get one test each; the first `npm ci` into the one
    node_modules must not run twice at once, so they take turns on a lock in the folder
    the workers share."""
    lock = tmp_path_factory.getbasetemp().parent / "typescript-client.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return typescript_client.generate_types()


@pytest.fixture(autouse=True)
def _generate_once(monkeypatch, generated_types):
    monkeypatch.setattr(typescript_client, "generate_types", lambda: generated_types)


def test_committed_types_match_the_schema_and_the_example_compiles(capsys):
    call_command("typescript_client", "--check", "--typecheck")

    out = capsys.readouterr().out
    assert "TypeScript types match the schema." in out
    assert "the client and its example compile" in out


def test_check_fails_when_the_committed_types_are_stale(tmp_path, monkeypatch):
    stale = tmp_path / "schema.d.ts"
    stale.write_text(
        typescript_client.TYPES_FILE.read_text().replace("hasMore: boolean", "hasMore: string")
    )
    monkeypatch.setattr(typescript_client, "TYPES_FILE", stale)

    with pytest.raises(CommandError, match="is stale"):
        call_command("typescript_client", "--check")
