import json

from rest_framework import serializers

from sync.tables import TABLES


class LastPulledAtField(serializers.IntegerField):
    """What WatermelonDB sends: nothing, an empty value or `null` on a first sync."""

    def run_validation(self, data=serializers.empty):
        if data in ("", "null"):
            return None
        return super().run_validation(data)


class PullQuerySerializer(serializers.Serializer):
    last_pulled_at = LastPulledAtField(
        required=False,
        allow_null=True,
        min_value=0,
        default=None,
        help_text="The `timestamp` of your last pull; missing, empty, `null` or 0 pulls "
        "everything.",
    )
    schema_version = serializers.IntegerField(required=False, min_value=1)
    migration = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='JSON: `{"from": n, "tables": [names], "columns": [{"table", "columns"}]}`; '
        "their rows come in full.",
    )

    def validate_migration(self, value: str) -> dict:
        if value in ("", "null"):
            return {}
        try:
            migration = json.loads(value)
        except ValueError:
            raise serializers.ValidationError("Not JSON.") from None
        if not isinstance(migration, dict):
            raise serializers.ValidationError("Expected an object.")
        tables = migration.get("tables") or []
        columns = migration.get("columns") or []
        if not isinstance(tables, list) or not isinstance(columns, list):
            raise serializers.ValidationError("`tables` and `columns` are lists.")
        named = [
            *tables,
            *(item.get("table") if isinstance(item, dict) else None for item in columns),
        ]
        unknown = [str(name) for name in named if name not in TABLES]
        if unknown:
            raise serializers.ValidationError(f"Unknown table(s): {', '.join(unknown)}.")
        return {
            "tables": frozenset(tables),
            "columns": frozenset(item["table"] for item in columns),
        }


class PushQuerySerializer(serializers.Serializer):
    last_pulled_at = serializers.IntegerField(
        min_value=0, help_text="The `timestamp` of the pull this push follows."
    )


class TableChangesSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.DictField(), default=list)
    updated = serializers.ListField(child=serializers.DictField(), default=list)
    deleted = serializers.ListField(child=serializers.CharField(max_length=64), default=list)


class ChangesSerializer(serializers.Serializer):
    """The bare changes object: `{table: {created: [...], updated: [...], deleted: [ids]}}`."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected an object."]})
        unknown = sorted(str(name) for name in data if name not in TABLES)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown table."] for name in unknown})
        result, errors = {}, {}
        for name, changes in data.items():
            table = TableChangesSerializer(data=changes)
            if table.is_valid():
                result[name] = table.validated_data
            else:
                errors[name] = table.errors
        if errors:
            raise serializers.ValidationError(errors)
        return result


class PullResponseSerializer(serializers.Serializer):
    changes = serializers.DictField(
        child=TableChangesSerializer(), help_text="Per table: created, updated, deleted."
    )
    timestamp = serializers.IntegerField(help_text="Send it back as `last_pulled_at`.")
    experimentalStrategy = serializers.ChoiceField(
        choices=["replacement"],
        required=False,
        help_text="Only when `last_pulled_at` is older than the pruned tombstones: every row "
        "came as `updated`, and the client destroys the synced records not among them "
        "(WatermelonDB's replacement strategy; return it from `pullChanges`).",
    )


class PushResponseSerializer(serializers.Serializer):
    experimentalRejectedIds = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Records that can never be applied, per table; the rest were applied.",
    )
    reasons = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="Why, per table and id.",
    )
