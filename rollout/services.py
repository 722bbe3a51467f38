"""Writes of the audit trail: every change staff make to a flag, switch, value or minimum
version, with who, when, and the values before and after."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict

from rollout.models import ChangeRecord

# Bookkeeping that every save moves; a change is what staff set.
_UNAUDITED = {"id", "created", "modified"}


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's editable values as JSON (many-to-many as sorted ids)."""
    values = model_to_dict(instance)
    for field in instance._meta.many_to_many:
        if instance.pk:
            values[field.name] = sorted(
                str(pk) for pk in getattr(instance, field.name).values_list("pk", flat=True)
            )
    plain = {name: value for name, value in values.items() if name not in _UNAUDITED}
    return json.loads(json.dumps(plain, cls=DjangoJSONEncoder, default=str))


@transaction.atomic
def record_change(
    *,
    actor: Any,
    instance: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ChangeRecord | None:
    """Records a change (nothing when nothing changed); `before` None is a creation,
    `after` None a deletion."""
    if before == after:
        return None
    if before is None:
        action = ChangeRecord.Action.CREATED
    elif after is None:
        action = ChangeRecord.Action.DELETED
    else:
        action = ChangeRecord.Action.CHANGED
    return ChangeRecord.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_email=getattr(actor, "email", "") or "",
        kind=instance._meta.model_name,
        name=str(getattr(instance, "name", None) or instance),
        action=action,
        before=before,
        after=after,
    )
