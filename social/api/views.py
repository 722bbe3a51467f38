from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from fitness.api import ratelimit, responses
from fitness.api.errors import RateLimited
from fitness.api.pagination import PagePagination
from fitness.api.schema import error_responses
from fitness.api.throttling import parse_rate
from fitness.error_codes import ErrorCode
from social import selectors, services
from social.api import serializers as s


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


def _body(serializer_class, request, **kwargs) -> dict:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _page(view: APIView, request, rows, serializer_class, context: dict) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)


def _viewer(request) -> dict:
    return {"viewer_id": request.user.pk, "hidden": selectors.blocked_ids(request.user.pk)}


# --- connections -----------------------------------------------------------------------


class ConnectionsView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["social"],
        operation_id="connections_list",
        parameters=[s.ConnectionListQuerySerializer],
        responses={200: s.ConnectionSerializer(many=True)},
        description="Your connections and pending requests, newest first.",
    )
    def get(self, request):
        query = _query(s.ConnectionListQuerySerializer, request)
        rows = selectors.list_connections(user=request.user, status=query.get("status"))
        return _page(self, request, rows, s.ConnectionSerializer, _viewer(request))

    @extend_schema(
        tags=["social"],
        request=s.ConnectionRequestSerializer,
        responses={
            201: s.ConnectionSerializer,
            200: OpenApiResponse(
                s.ConnectionSerializer,
                description="Already connected or requested; or their pending request to you, "
                "now accepted.",
            ),
            **error_responses(ErrorCode.NOT_FOUND, ErrorCode.USER_BLOCKED),
        },
        description="Sends a connection request by `user_id` or `invite_code`; if they "
        "already asked you, this accepts it (status accepted).",
    )
    def post(self, request):
        data = _body(s.ConnectionRequestSerializer, request)
        connection, changed = services.request_connection(user=request.user, **data)
        body = s.ConnectionSerializer(connection, context=_viewer(request)).data
        if changed and body["status"] == "outgoing":
            return responses.created(request, body, "connection-detail", connection.pk)
        return Response(body)


class ConnectionAcceptView(APIView):
    @extend_schema(
        tags=["social"],
        request=None,
        responses={200: s.ConnectionSerializer, **error_responses(ErrorCode.FORBIDDEN)},
        description="Accepts an incoming request (403 for your own outgoing one).",
    )
    def post(self, request, connection_id):
        connection = services.accept_connection(user=request.user, connection_id=connection_id)
        return Response(s.ConnectionSerializer(connection, context=_viewer(request)).data)


class ConnectionDetailView(APIView):
    @extend_schema(
        tags=["social"],
        responses={204: OpenApiResponse(description="Cancelled, declined or removed.")},
        description="Either side cancels, declines or removes; shares between you end.",
    )
    def delete(self, request, connection_id):
        services.remove_connection(user=request.user, connection_id=connection_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InviteCodeView(APIView):
    @extend_schema(
        tags=["social"],
        request=None,
        responses=s.InviteCodeSerializer,
        description="Replaces your invite code; the old one stops working.",
    )
    def post(self, request):
        return Response({"invite_code": services.rotate_invite_code(user=request.user)})


class UserSearchView(APIView):
    @extend_schema(
        tags=["social"],
        parameters=[s.UserSearchQuerySerializer],
        responses={200: s.UserCardSerializer, **error_responses(ErrorCode.NOT_FOUND)},
        description="Finds one user by an exact e-mail address, if they allow it "
        "(`privacy_settings.discoverable`). Unknown and undiscoverable both answer 404. "
        "Limited per user (THROTTLE_USER_SEARCH, 30/hour).",
    )
    def get(self, request):
        query = _query(s.UserSearchQuerySerializer, request)
        limit, window = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user_search"])
        state = ratelimit.hit(f"user:user_search:{request.user.pk}", limit=limit, window=window)
        if state.exceeded:
            raise RateLimited(state.retry_after)
        found = selectors.find_user_by_email(viewer=request.user, email=query["email"])
        return Response(selectors.user_card(found))


class BlocksView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["social"],
        responses=s.BlockSerializer(many=True),
        description="The users you blocked.",
    )
    def get(self, request):
        rows = selectors.list_blocks(user=request.user)
        return _page(self, request, rows, s.BlockSerializer, {})

    @extend_schema(
        tags=["social"],
        request=s.BlockRequestSerializer,
        responses={
            201: s.BlockSerializer,
            200: OpenApiResponse(s.BlockSerializer, description="Already blocked."),
            **error_responses(ErrorCode.NOT_FOUND),
        },
        description="Blocks a user: removes your connection, pending requests and group "
        "invitations between you, and what you shared with each other; neither of you then "
        "sees the other (search, members lists and leaderboards show you as hidden).",
    )
    def post(self, request):
        data = _body(s.BlockRequestSerializer, request)
        block, created = services.block_user(user=request.user, user_id=data["user_id"])
        body = s.BlockSerializer(block).data
        if created:
            return responses.created(request, body, "block-detail", data["user_id"])
        return Response(body)


class BlockDetailView(APIView):
    @extend_schema(tags=["social"], responses={204: OpenApiResponse(description="Unblocked.")})
    def delete(self, request, user_id):
        services.unblock_user(user=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- groups ----------------------------------------------------------------------------

MEMBERS_IN_GROUP_RESPONSE = 100


def group_response(request, group_id) -> dict:
    access = selectors.group_access(user=request.user, group_id=group_id)
    group = access.group
    group.member_count = selectors.active_count(group)
    group.my_membership = access.membership
    context = _viewer(request)
    members = list(selectors.members(access=access)[:MEMBERS_IN_GROUP_RESPONSE])
    challenges = list(selectors.list_challenges(access=access))
    return s.GroupResponseSerializer(
        {"group": group, "members": members, "challenges": challenges}, context=context
    ).data


class GroupsView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["groups"],
        operation_id="groups_list",
        parameters=[s.GroupListQuerySerializer],
        responses={200: s.GroupSerializer(many=True)},
        description="Your groups (active, invited or requested); with `discover=true`, "
        "public groups whose name contains `q`.",
    )
    def get(self, request):
        query = _query(s.GroupListQuerySerializer, request)
        if query["discover"]:
            rows = selectors.discover_groups(user=request.user, q=query.get("q"))
        else:
            rows = selectors.list_groups(user=request.user)
        return _page(self, request, rows, s.GroupSerializer, {})

    @extend_schema(
        tags=["groups"],
        request=s.GroupWriteSerializer,
        responses={201: s.GroupResponseSerializer},
        description="Creates a group; you are its owner. Settings default to private, "
        "invite_only, 100 members, members_can_invite false.",
    )
    def post(self, request):
        data = _body(s.GroupWriteSerializer, request)
        group = services.create_group(owner=request.user, **data)
        return responses.created(
            request, group_response(request, group.pk), "group-detail", group.pk
        )


class GroupDetailView(APIView):
    @extend_schema(
        tags=["groups"],
        responses=s.GroupResponseSerializer,
        description="`GroupResponse`. A private group answers 404 to non-members.",
    )
    def get(self, request, group_id):
        return Response(group_response(request, group_id))

    @extend_schema(
        tags=["groups"],
        request=s.GroupWriteSerializer(partial=True),
        responses={200: s.GroupResponseSerializer, **error_responses(ErrorCode.FORBIDDEN)},
        description="Owner and admins: name, description and settings (keys sent replace "
        "theirs; unknown keys are refused).",
    )
    def put(self, request, group_id):
        data = _body(s.GroupWriteSerializer, request, partial=True)
        services.update_group(user=request.user, group_id=group_id, changes=dict(data))
        return Response(group_response(request, group_id))

    @extend_schema(
        tags=["groups"],
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(ErrorCode.FORBIDDEN),
        },
        description="Owner only. Memberships and challenges go with it; workouts stay and "
        "lose the link.",
    )
    def delete(self, request, group_id):
        services.delete_group(user=request.user, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembersView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["groups"],
        operation_id="group_members_list",
        parameters=[s.MemberListQuerySerializer],
        responses={200: s.GroupMemberSerializer(many=True)},
        description="Active members (owner, then admins, then by joining); admins also see "
        "invitations and requests.",
    )
    def get(self, request, group_id):
        query = _query(s.MemberListQuerySerializer, request)
        access = selectors.group_access(user=request.user, group_id=group_id)
        rows = selectors.members(access=access, status=query.get("status"))
        return _page(self, request, rows, s.GroupMemberSerializer, _viewer(request))

    @extend_schema(
        tags=["groups"],
        request=s.MemberAddSerializer,
        responses={
            201: s.GroupMemberSerializer,
            200: OpenApiResponse(s.GroupMemberSerializer, description="Nothing changed."),
            **error_responses(ErrorCode.FORBIDDEN, ErrorCode.GROUP_FULL, ErrorCode.NOT_CONNECTED),
        },
        description="Your own id: join an open group, request to join an approval group, "
        "or accept an invitation. A connection's id: invite them (admins, or any member "
        "with members_can_invite); inviting someone who requested approves them.",
    )
    def post(self, request, group_id):
        data = _body(s.MemberAddSerializer, request)
        membership, changed = services.add_member(
            user=request.user, group_id=group_id, user_id=data["user_id"]
        )
        body = s.GroupMemberSerializer(membership, context=_viewer(request)).data
        if changed:
            return responses.created(
                request, body, "group-member-detail", group_id, membership.user_id
            )
        return Response(body)


class MemberDetailView(APIView):
    @extend_schema(
        tags=["groups"],
        request=s.MemberUpdateSerializer,
        responses={
            200: s.GroupMemberSerializer,
            **error_responses(
                ErrorCode.FORBIDDEN, ErrorCode.GROUP_FULL, ErrorCode.OWNER_MUST_REMAIN
            ),
        },
        description="Admins approve a request (`status: active`). The owner promotes and "
        "demotes (`role: admin|member`) and hands ownership over (`role: owner`; the old "
        "owner becomes an admin).",
    )
    def patch(self, request, group_id, user_id):
        data = _body(s.MemberUpdateSerializer, request)
        membership = services.update_member(
            user=request.user, group_id=group_id, user_id=user_id, **data
        )
        return Response(s.GroupMemberSerializer(membership, context=_viewer(request)).data)

    @extend_schema(
        tags=["groups"],
        responses={
            204: OpenApiResponse(description="Left, declined or removed."),
            **error_responses(ErrorCode.FORBIDDEN, ErrorCode.OWNER_MUST_REMAIN),
        },
        description="Your own id: leave, decline an invitation or withdraw a request. "
        "Someone else's: admins remove members and answer requests; only the owner "
        "removes admins; nobody removes the owner.",
    )
    def delete(self, request, group_id, user_id):
        services.remove_member(user=request.user, group_id=group_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- challenges ------------------------------------------------------------------------


def _challenge_context(request) -> dict:
    return {**_viewer(request), "default_timezone": request.user.timezone}


def challenge_body(request, group_id, challenge_id) -> dict:
    access = selectors.group_access(user=request.user, group_id=group_id)
    challenge = selectors.get_challenge(access=access, challenge_id=challenge_id)
    return s.ChallengeSerializer(challenge, context=_viewer(request)).data


class ChallengesView(APIView):
    pagination_class = PagePagination

    @extend_schema(
        tags=["groups"],
        operation_id="group_challenges_list",
        parameters=[s.ChallengeListQuerySerializer],
        responses={200: s.ChallengeSerializer(many=True)},
        description="The group's challenges, latest start first, each with its top 10.",
    )
    def get(self, request, group_id):
        query = _query(s.ChallengeListQuerySerializer, request)
        access = selectors.group_access(user=request.user, group_id=group_id)
        rows = selectors.list_challenges(access=access, status=query.get("status"))
        return _page(self, request, rows, s.ChallengeSerializer, _viewer(request))

    @extend_schema(
        tags=["groups"],
        request=s.ChallengeWriteSerializer,
        responses={201: s.ChallengeSerializer, **error_responses(ErrorCode.FORBIDDEN)},
        description="Owner and admins. `start_date`/`end_date`: ISO date-times with a zone, "
        "or dates (that day's start in `timezone`, which defaults to yours); at most 366 "
        "days. `goals.unit` follows the type.",
    )
    def post(self, request, group_id):
        data = _body(s.ChallengeWriteSerializer, request, context=_challenge_context(request))
        challenge = services.create_challenge(user=request.user, group_id=group_id, data=data)
        body = challenge_body(request, group_id, challenge.pk)
        return responses.created(request, body, "challenge-detail", group_id, challenge.pk)


class ChallengeDetailView(APIView):
    @extend_schema(
        tags=["groups"],
        responses=s.ChallengeSerializer,
        description="One challenge with its whole leaderboard.",
    )
    def get(self, request, group_id, challenge_id):
        return Response(challenge_body(request, group_id, challenge_id))

    @extend_schema(
        tags=["groups"],
        request=s.ChallengeWriteSerializer(partial=True),
        responses={
            200: s.ChallengeSerializer,
            **error_responses(ErrorCode.FORBIDDEN, ErrorCode.CHALLENGE_CLOSED),
        },
        description="Owner and admins, until the challenge ends; the board is recomputed.",
    )
    def put(self, request, group_id, challenge_id):
        access = selectors.group_access(user=request.user, group_id=group_id)
        existing = selectors.get_challenge(access=access, challenge_id=challenge_id)
        context = {**_challenge_context(request), "challenge": existing}
        data = _body(s.ChallengeWriteSerializer, request, partial=True, context=context)
        services.update_challenge(
            user=request.user, group_id=group_id, challenge_id=challenge_id, data=data
        )
        return Response(challenge_body(request, group_id, challenge_id))


class ParticipantsView(APIView):
    @extend_schema(
        tags=["groups"],
        request=None,
        responses={
            201: s.ParticipantSerializer,
            200: OpenApiResponse(s.ParticipantSerializer, description="Already taking part."),
            **error_responses(ErrorCode.FORBIDDEN, ErrorCode.CHALLENGE_CLOSED),
        },
        description="Active members join a challenge, until it ends.",
    )
    def post(self, request, group_id, challenge_id):
        participant, created = services.join_challenge(
            user=request.user, group_id=group_id, challenge_id=challenge_id
        )
        body = s.ParticipantSerializer(participant).data
        if created:
            return responses.created(
                request, body, "challenge-participants", group_id, challenge_id
            )
        return Response(body)

    @extend_schema(
        tags=["groups"],
        responses={
            204: OpenApiResponse(description="Left."),
            **error_responses(ErrorCode.FORBIDDEN, ErrorCode.CHALLENGE_CLOSED),
        },
    )
    def delete(self, request, group_id, challenge_id):
        services.leave_challenge(user=request.user, group_id=group_id, challenge_id=challenge_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
