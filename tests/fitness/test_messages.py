"""`fitness.middleware.LazyMessageMiddleware`: Django's messages, their storage built only
for a request that uses it; a message still reaches the next page, as the admin shows it."""

import pytest
from django.contrib import messages
from django.http import HttpResponse
from django.urls import path
from django.utils.functional import empty

built: list[bool] = []


def _quiet(request):
    response = HttpResponse(b"ok")
    # Read after the middleware has run: the storage was never built.
    response._resource_closers.append(lambda: built.append(request._messages._wrapped is not empty))
    return response


def _add(request):
    messages.success(request, "Saved.")
    return HttpResponse(b"added")


def _show(request):
    return HttpResponse(" | ".join(str(m) for m in messages.get_messages(request)).encode())


urlpatterns = [
    path("quiet", _quiet),
    path("add", _add),
    path("show", _show),
]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__
    built.clear()


def test_a_request_that_shows_no_message_builds_no_storage(client):
    response = client.get("/quiet")

    assert response.status_code == 200
    assert built == [False]
    assert "messages" not in response.cookies


def test_a_message_added_reaches_the_next_page_once(client):
    added = client.get("/add")
    shown = client.get("/show")
    again = client.get("/show")

    assert "messages" in added.cookies
    assert shown.content == b"Saved."
    assert again.content == b""
