from rest_framework import serializers

from migration.mapping import ENTITY_ORDER

MAX_IDS = 500


class IdLookupQuerySerializer(serializers.Serializer):
    table = serializers.ChoiceField(
        choices=[*ENTITY_ORDER, "storage_objects"],
        help_text="The source table the old ids come from (the mapping's entity name).",
    )
    ids = serializers.CharField(help_text=f"Old ids, comma-separated (at most {MAX_IDS}).")

    def validate_ids(self, value: str) -> list[str]:
        ids = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
        if not ids:
            raise serializers.ValidationError("At least one id.")
        if len(ids) > MAX_IDS:
            raise serializers.ValidationError(f"At most {MAX_IDS} ids.")
        return ids


class IdLookupSerializer(serializers.Serializer):
    table = serializers.CharField()
    ids = serializers.DictField(
        child=serializers.UUIDField(),
        help_text="Old id → new id, for your own rows only; ids not found are left out.",
    )
