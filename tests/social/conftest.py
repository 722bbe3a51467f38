import pytest

from social import services
from social.models import GroupMembership, MemberStatus, Role
from tests.conftest import client_for
from tests.factories import UserFactory, connect


def make_group(owner, **settings):
    return services.create_group(owner=owner, name="Runners", settings=settings)


def add(group, user, status=MemberStatus.ACTIVE, role=Role.MEMBER):
    from django.utils import timezone

    return GroupMembership.objects.create(
        group=group,
        user=user,
        status=status,
        role=role,
        joined_at=timezone.now() if status == MemberStatus.ACTIVE else None,
    )


class Cast:
    """One group and a user in every relation to it, each with a signed-in client."""

    def __init__(self, **settings):
        self.owner = UserFactory()
        self.group = make_group(self.owner, **settings)
        self.admin = UserFactory()
        self.member = UserFactory()
        self.invited = UserFactory()
        self.requested = UserFactory()
        self.outsider = UserFactory()
        self.blocked = UserFactory()
        self.staff = UserFactory(is_staff=True)
        add(self.group, self.admin, role=Role.ADMIN)
        add(self.group, self.member)
        add(self.group, self.invited, status=MemberStatus.INVITED)
        add(self.group, self.requested, status=MemberStatus.REQUESTED)
        services.block_user(user=self.owner, user_id=self.blocked.pk)

    def client(self, who: str):
        return client_for(getattr(self, who))


@pytest.fixture
def cast(db):
    return Cast()


@pytest.fixture
def public_cast(db):
    return Cast(visibility="public", join_policy="open")


__all__ = ["Cast", "add", "connect", "make_group"]
