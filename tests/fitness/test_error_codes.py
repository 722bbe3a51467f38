"""The error-code registry: one declaration per code, used by every error and the schema."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode, markdown_table

ROOT = Path(settings.BASE_DIR)
# A code written as a string literal where an error is declared or raised.
_FREE_STRING_CODE = re.compile(r"""\bcode\s*=\s*["'][a-z_]+["']""")


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def _project_sources() -> list[Path]:
    # The project's own apps sit at the top of the repository (a virtualenv inside it does
    # not count).
    app_dirs = [
        Path(config.path) for config in apps.get_app_configs() if Path(config.path).parent == ROOT
    ]
    return [
        source
        for directory in app_dirs
        for source in directory.rglob("*.py")
        if "migrations" not in source.parts
    ]


def test_registry_codes_are_snake_case_with_error_statuses():
    for code in ErrorCode:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
        assert 400 <= code.status <= 599, code
        assert code.meaning.strip(), code


def test_every_api_error_takes_its_code_and_status_from_the_registry():
    import accounts.services  # noqa: F401  (imports every module that declares errors)
    import ai_assistant.recognition.jobs  # noqa: F401
    import food.services  # noqa: F401
    import storage.services  # noqa: F401

    for error in _all_subclasses(ApiError) | {ApiError}:
        assert isinstance(error.code, ErrorCode), error
    # The status follows the code; a subclass that set its own could contradict it.
    assert not [error for error in _all_subclasses(ApiError) if "status_code" in vars(error)]


def test_api_error_refuses_a_free_string_code():
    with pytest.raises(TypeError):
        ApiError("x", code="made_up")


def test_no_free_string_codes_outside_the_registry():
    offenders = [
        f"{source.relative_to(ROOT)}:{number}"
        for source in _project_sources()
        if source.name != "error_codes.py"
        for number, line in enumerate(source.read_text().splitlines(), 1)
        if _FREE_STRING_CODE.search(line)
    ]
    assert not offenders, offenders


def test_schema_lists_each_operations_codes_under_their_statuses():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    registry = {str(code): code for code in ErrorCode}
    operations = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            operations += 1
            for status, response in operation["responses"].items():
                if int(status) < 400 or "ErrorEnvelope" not in str(response.get("content")):
                    continue  # e.g. /readyz's 503, which answers the health body
                codes = response.get("x-error-codes")
                assert codes, f"{method.upper()} {path} {status} lists no codes"
                for code in codes:
                    assert registry[code].status == int(status), (path, method, code)
                    assert f"`{code}`" in response["description"]
            assert "500" in operation["responses"], (method, path)
    assert operations > 40


def test_schema_lists_generic_and_declared_codes_together():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    login = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert set(login["401"]["x-error-codes"]) >= {"invalid_credentials"}
    assert "too_many_attempts" in login["429"]["x-error-codes"]
    create = schema["paths"]["/api/v1/food/logs"]["post"]["responses"]
    assert {"validation_error", "malformed_request"} <= set(create["400"]["x-error-codes"])
    assert create["409"]["x-error-codes"] == ["id_conflict"]
    detail = schema["paths"]["/api/v1/food/logs/{log_id}"]["get"]["responses"]
    assert detail["404"]["x-error-codes"] == ["not_found"]
    assert set(detail["401"]["x-error-codes"]) == {
        "not_authenticated",
        "authentication_failed",
        "token_not_valid",
    }


def test_readme_table_of_codes_is_current():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "Regenerate it with `manage.py error_codes`."
