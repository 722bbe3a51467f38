"""Reads of the remote config, through the shared cache that every change invalidates."""

import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from packaging.version import Version
from waffle import get_waffle_flag_model, get_waffle_switch_model

from fitness.api.errors import BACKEND_OUTAGES
from rollout.features import Feature, is_enabled
from rollout.flags import Caller, flag_is_on
from rollout.models import ConfigValue, MinAppVersion
from rollout.versions import Platform, parse_version

VALUES_KEY = "rollout:values"
MINIMUMS_KEY = "rollout:minimums"

T = TypeVar("T")


def _cached(key: str, load: Callable[[], T]) -> T:
    """The cached copy, or the database's when Redis cannot be reached: the version gate
    runs on every request and must not turn an outage into 503s of its own."""
    try:
        value = cache.get(key)
    except BACKEND_OUTAGES:
        return load()
    if value is None:
        value = load()
        with contextlib.suppress(BACKEND_OUTAGES):
            cache.set(key, value, timeout=settings.ROLLOUT_CACHE_SECONDS)
    return value


def config_values() -> dict[str, Any]:
    return _cached(VALUES_KEY, lambda: dict(ConfigValue.objects.values_list("name", "value")))


def min_app_versions() -> dict[Platform, Version | None]:
    """Per platform, the higher of the environment's floor and the admin's minimum."""
    raised = _cached(
        MINIMUMS_KEY, lambda: dict(MinAppVersion.objects.values_list("platform", "version"))
    )
    minimums: dict[Platform, Version | None] = {}
    for platform in Platform:
        candidates = [
            parse_version(settings.MIN_APP_VERSION.get(platform, "")),
            parse_version(raised.get(platform)),
        ]
        present = [version for version in candidates if version is not None]
        minimums[platform] = max(present) if present else None
    return minimums


def client_config(caller: Caller) -> dict[str, Any]:
    """GET /config's body: every flag evaluated for the caller, the switches, the values and
    the minimum versions, with an ETag over all of it."""
    flags = {flag.name: flag_is_on(flag, caller) for flag in get_waffle_flag_model().get_all()}
    flags.update(
        {switch.name: switch.is_active() for switch in get_waffle_switch_model().get_all()}
    )
    # The kill switches even where no row exists yet (a missing switch is on).
    flags.update({str(feature): is_enabled(feature) for feature in Feature})
    body: dict[str, Any] = {
        "flags": dict(sorted(flags.items())),
        "values": config_values(),
        "min_app_version": {
            str(platform): str(version) if version else None
            for platform, version in min_app_versions().items()
        },
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    body["etag"] = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return body
