"""Serializer bases every app's API shares."""

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know, so a typo is a 400 rather than a silent no-op."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field."] for key in sorted(unknown)}
                )
        return super().to_internal_value(data)
