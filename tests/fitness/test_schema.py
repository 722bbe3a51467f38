import inspect
import re

import pytest
from django.core.management import call_command
from django.urls import resolve

from fitness.api.schema import DeleteWithBodySchema


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "s.yml"))


@pytest.mark.django_db
def test_schema_documents_error_envelope_on_every_operation(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    assert "ErrorEnvelope" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = {code for code in operation["responses"] if code.startswith(("4", "5"))}
            assert "500" in codes, f"{method} {path}"


@pytest.mark.django_db
def test_swagger_ui_is_served_without_a_cdn(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


# --- every body an operation reads or answers is in the schema -------------------------------

_BODY_READERS = ("request.data", "read_multipart(", "_body(")
_ANY_ID = "00000000-0000-4000-8000-000000000000"


def _reads_body(view_class, method: str) -> bool:
    """Whether the handler (or a `self._helper` it calls) reads the request body."""
    handler = getattr(view_class, method)
    source = inspect.getsource(handler)
    for helper in set(re.findall(r"self\.(_\w+)\(", source)):
        source += inspect.getsource(getattr(view_class, helper))
    return any(reader in source for reader in _BODY_READERS)


def _operations(schema):
    for path, item in schema["paths"].items():
        view = resolve(re.sub(r"\{[^}]+\}", _ANY_ID, path)).func
        for method, operation in item.items():
            yield path, method, view.cls, operation


@pytest.mark.django_db
def test_every_operation_that_reads_a_body_documents_it(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    undocumented, documented_unread = [], []
    for path, method, view_class, operation in _operations(schema):
        takes_body = method in ("post", "put", "patch") or isinstance(
            view_class.schema, DeleteWithBodySchema
        )
        if not takes_body:
            continue
        reads = _reads_body(view_class, method)
        content = operation.get("requestBody", {}).get("content", {})
        has_body = bool(content) and all(media.get("schema") for media in content.values())
        if reads and not has_body:
            undocumented.append(f"{method.upper()} {path}")
        if has_body and not reads:
            documented_unread.append(f"{method.upper()} {path}")

    assert undocumented == []
    assert documented_unread == []


@pytest.mark.django_db
def test_every_response_but_204_documents_its_body(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    missing = [
        f"{method.upper()} {path} {status}"
        for path, method, _, operation in _operations(schema)
        for status, response in operation["responses"].items()
        if status not in ("204", "304")  # neither may carry a body (RFC 9110)
        and not (
            response.get("content")
            and all(media.get("schema") for media in response["content"].values())
        )
    ]

    assert missing == []
