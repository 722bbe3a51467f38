"""The app's TypeScript types, generated from the OpenAPI schema (`make clients`).

    manage.py typescript_client               # writes clients/typescript/src/schema.d.ts
    manage.py typescript_client --check       # exit 1 when the committed types are stale
    manage.py typescript_client --typecheck   # tsc --noEmit of the wrapper and the example

The npm packages (openapi-typescript, openapi-fetch, typescript, pinned in package-lock.json)
are installed into clients/typescript/node_modules (gitignored) on first use.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

CLIENT_DIR = Path(settings.BASE_DIR) / "clients" / "typescript"
TYPES_FILE = CLIENT_DIR / "src" / "schema.d.ts"
_NPM_TIMEOUT_SECONDS = 600


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    # Our own fixed argument lists (no shell, nothing from a request).
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        raise CommandError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result


def ensure_npm_packages() -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        raise CommandError("Node.js and npm are needed (Debian: apt-get install nodejs npm).")
    installed = CLIENT_DIR / "node_modules" / ".package-lock.json"
    lock = CLIENT_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CLIENT_DIR,
        timeout=_NPM_TIMEOUT_SECONDS,
    )


def _schema_json(path: Path) -> None:
    """The schema as a fresh clone describes it: some descriptions quote settings (a URL's
    lifetime, a batch's size), so it is rendered in a process that sees none of this
    environment's configuration, and the committed types do not depend on who ran this."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(settings.BASE_DIR)),
        "DJANGO_SETTINGS_MODULE": "fitness.settings",
        "DEBUG": "true",
    }
    manage = Path(settings.BASE_DIR) / "manage.py"
    _run(
        [sys.executable, str(manage), "spectacular", "--format", "openapi-json", "--file", path],
        env=environment,
        cwd=settings.BASE_DIR,
    )


def generate_types() -> str:
    ensure_npm_packages()
    with tempfile.TemporaryDirectory() as folder:
        schema, types = Path(folder) / "openapi.json", Path(folder) / "schema.d.ts"
        _schema_json(schema)
        binary = CLIENT_DIR / "node_modules" / ".bin" / "openapi-typescript"
        # A field with a default may be left out of a request: not required, whatever
        # openapi-typescript assumes by default.
        options = ["--default-non-nullable=false"]
        _run([str(binary), str(schema), *options, "--output", str(types)], cwd=CLIENT_DIR)
        return types.read_text()


class Command(BaseCommand):
    help = "Generates the TypeScript types of the API from its OpenAPI schema."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; fail when the committed types differ from the schema.",
        )
        parser.add_argument(
            "--typecheck",
            action="store_true",
            help="Also compile the wrapper and the example with tsc --noEmit.",
        )

    def handle(self, *args, check: bool = False, typecheck: bool = False, **options) -> None:
        generated = generate_types()
        committed = TYPES_FILE.read_text() if TYPES_FILE.exists() else ""
        if check:
            if generated != committed:
                raise CommandError(
                    f"{os.path.relpath(TYPES_FILE, settings.BASE_DIR)} is stale: the schema "
                    "changed. Run `make clients` and commit the result."
                )
            self.stdout.write("TypeScript types match the schema.")
        elif generated != committed:
            TYPES_FILE.write_text(generated)
            self.stdout.write(f"Wrote {os.path.relpath(TYPES_FILE, settings.BASE_DIR)}.")
        else:
            self.stdout.write("TypeScript types already match the schema.")
        if typecheck:
            _run(
                [str(CLIENT_DIR / "node_modules" / ".bin" / "tsc"), "--noEmit", "-p", "."],
                cwd=CLIENT_DIR,
            )
            self.stdout.write("tsc --noEmit: the client and its example compile.")
