import pytest
from django.core.management import call_command


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
