"""What the report needs to know about imported rows removed here without a tombstone."""

from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from migration.models import DELETED_HERE, IdMap
from social.models import Group


@receiver(post_delete, sender=Group, dispatch_uid="migration.group_deleted")
def group_deleted(sender, instance: Group, **kwargs) -> None:
    """A group has no soft delete: its id map row keeps when it went, so the report counts
    it as changed here (not missing) and `export_legacy` writes its tombstone. A queryset
    update leaves the row's own `updated_at` (the import's moment) as it was."""
    now = timezone.now().isoformat()
    for pk, legacy in IdMap.objects.filter(source_table="groups", new_id=instance.pk).values_list(
        "pk", "legacy"
    ):
        IdMap.objects.filter(pk=pk).update(legacy={**legacy, DELETED_HERE: now})
