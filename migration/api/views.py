from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from migration import selectors
from migration.api import serializers as s


class IdLookupView(APIView):
    @extend_schema(
        tags=["migration"],
        operation_id="migration_ids",
        parameters=[s.IdLookupQuerySerializer],
        responses={200: s.IdLookupSerializer},
        description="For clients that still hold ids from before the migration: your own "
        "rows' new ids. Ids of other users' rows, or never imported, are absent.",
    )
    def get(self, request):
        query = s.IdLookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        table, old_ids = query.validated_data["table"], query.validated_data["ids"]
        found = selectors.own_new_ids(user=request.user, table=table, old_ids=old_ids)
        return Response(s.IdLookupSerializer({"table": table, "ids": found}).data)
