from uuid import UUID

from accounts.models import User
from migration.models import IdMap


def own_new_ids(*, user: User, table: str, old_ids: list[str]) -> dict[str, UUID]:
    """The caller's own old → new ids; anyone else's (or unknown) ids are simply absent."""
    return dict(
        IdMap.objects.filter(owner=user, source_table=table, old_id__in=old_ids).values_list(
            "old_id", "new_id"
        )
    )
