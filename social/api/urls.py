from django.urls import path

from social.api import views

users_urlpatterns = [
    path("connections", views.ConnectionsView.as_view(), name="connections"),
    path(
        "connections/<uuid:connection_id>",
        views.ConnectionDetailView.as_view(),
        name="connection-detail",
    ),
    path(
        "connections/<uuid:connection_id>/accept",
        views.ConnectionAcceptView.as_view(),
        name="connection-accept",
    ),
    path("invite-code", views.InviteCodeView.as_view(), name="invite-code"),
    path("search", views.UserSearchView.as_view(), name="user-search"),
    path("blocks", views.BlocksView.as_view(), name="blocks"),
    path("blocks/<uuid:user_id>", views.BlockDetailView.as_view(), name="block-detail"),
]

# Mounted at the API root: `/groups` has no trailing slash, like `/workouts`.
groups_urlpatterns = [
    path("groups", views.GroupsView.as_view(), name="groups"),
    path("groups/<uuid:group_id>", views.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<uuid:group_id>/members", views.MembersView.as_view(), name="group-members"),
    path(
        "groups/<uuid:group_id>/members/<uuid:user_id>",
        views.MemberDetailView.as_view(),
        name="group-member-detail",
    ),
    path("groups/<uuid:group_id>/challenges", views.ChallengesView.as_view(), name="challenges"),
    path(
        "groups/<uuid:group_id>/challenges/<uuid:challenge_id>",
        views.ChallengeDetailView.as_view(),
        name="challenge-detail",
    ),
    path(
        "groups/<uuid:group_id>/challenges/<uuid:challenge_id>/participants",
        views.ParticipantsView.as_view(),
        name="challenge-participants",
    ),
]
