from rest_framework import serializers


class MinAppVersionSerializer(serializers.Serializer):
    ios = serializers.CharField(allow_null=True)
    android = serializers.CharField(allow_null=True)


class ClientConfigSerializer(serializers.Serializer):
    flags = serializers.DictField(child=serializers.BooleanField())
    values = serializers.DictField(child=serializers.JSONField())
    min_app_version = MinAppVersionSerializer()
    etag = serializers.CharField()
