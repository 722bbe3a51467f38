from rest_framework import serializers


class AnalyzeFoodTextSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=2000, help_text="What was eaten, in the user's words (e.g. '2 eggs and toast')."
    )
