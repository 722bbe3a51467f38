"""Flipping a kill switch as the admin does: saved, committed, waffle's cache dropped."""

from django.db import transaction
from waffle.models import Switch


def set_switch(name: str, *, active: bool) -> None:
    with transaction.atomic():
        switch, _ = Switch.objects.get_or_create(name=name)
        switch.active = active
        switch.save()
    # Inside a test's transaction on_commit never fires; what the commit would run, now.
    switch.flush()
