"""Flag evaluation: each rule, the stable percentage bucketing, platform and version ranges."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from rollout.flags import Caller, bucket, flag_is_on
from rollout.models import Flag
from rollout.versions import Platform, parse_version
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def caller(user=None, *, install_id=None, platform=None, version=None) -> Caller:
    return Caller(
        user=user or AnonymousUser(),
        install_id=install_id,
        platform=Platform(platform) if platform else None,
        app_version=parse_version(version),
    )


def flag(**fields) -> Flag:
    fields.setdefault("superusers", False)
    return Flag.objects.create(name=fields.pop("name", "new_diary"), **fields)


def test_flag_missing_is_off():
    assert flag_is_on(Flag(name="nothing"), caller(UserFactory())) is False


def test_flag_everyone_on_and_off_override_every_other_rule():
    user = UserFactory(is_staff=True)
    assert flag_is_on(flag(name="a", everyone=True), caller()) is True
    assert (
        flag_is_on(
            flag(name="b", everyone=False, staff=True, percent=Decimal("99.9")), caller(user)
        )
        is False
    )


def test_flag_staff_only_for_staff():
    rule = flag(staff=True)
    assert flag_is_on(rule, caller(UserFactory(is_staff=True))) is True
    assert flag_is_on(rule, caller(UserFactory())) is False
    assert flag_is_on(rule, caller()) is False


def test_flag_superusers_when_asked():
    admin = UserFactory(is_staff=True, is_superuser=True)
    assert flag_is_on(flag(name="a", superusers=True), caller(admin)) is True
    assert flag_is_on(flag(name="b", superusers=False), caller(admin)) is False


def test_flag_listed_users_and_groups():
    listed, member, outsider = UserFactory(), UserFactory(), UserFactory()
    group = Group.objects.create(name="beta")
    member.groups.add(group)
    rule = flag()
    rule.users.add(listed)
    rule.groups.add(group)

    assert flag_is_on(rule, caller(listed)) is True
    assert flag_is_on(rule, caller(member)) is True
    assert flag_is_on(rule, caller(outsider)) is False


def test_flag_authenticated_for_anyone_signed_in():
    rule = flag(authenticated=True)
    assert flag_is_on(rule, caller(UserFactory())) is True
    assert flag_is_on(rule, caller(install_id="install-0001")) is False


def test_bucket_is_stable_and_salted_by_flag_name():
    assert bucket("a", "user:1") == bucket("a", "user:1")
    ids = [f"user:{n}" for n in range(200)]
    assert [bucket("a", i) for i in ids] != [bucket("b", i) for i in ids]
    assert all(Decimal(0) <= bucket("a", i) < Decimal(100) for i in ids)


def member(pk: int) -> SimpleNamespace:
    """A signed-in user as the bucketing sees one, without 400 rows to create."""
    return SimpleNamespace(pk=pk, is_authenticated=True, is_staff=False, is_superuser=False)


def test_percentage_grows_without_dropping_anyone():
    users = [member(n) for n in range(400)]
    rule = flag(percent=Decimal("10.0"))
    ins = {}
    for percent in ("10.0", "25.0", "50.0", "99.9"):
        rule.percent = Decimal(percent)
        ins[percent] = {u.pk for u in users if flag_is_on(rule, caller(u))}

    assert ins["10.0"] <= ins["25.0"] <= ins["50.0"] <= ins["99.9"]
    # Roughly the share asked for: a hash, not a coin flipped per request.
    assert 20 <= len(ins["10.0"]) <= 60
    assert 160 <= len(ins["50.0"]) <= 240


def test_percentage_answers_the_same_on_every_request():
    rule = flag(percent=Decimal("50.0"))
    answers = {n: flag_is_on(rule, caller(member(n))) for n in range(50)}
    again = {n: flag_is_on(rule, caller(member(n))) for n in range(50)}
    assert answers == again
    assert set(answers.values()) == {True, False}


def test_percentage_buckets_signed_out_callers_by_install_id_and_skips_those_without():
    rule = flag(percent=Decimal("50.0"))
    installs = [f"install-{n:04d}" for n in range(100)]
    on = [i for i in installs if flag_is_on(rule, caller(install_id=i))]
    assert 25 <= len(on) <= 75
    assert on == [i for i in installs if flag_is_on(rule, caller(install_id=i))]
    rule.percent = Decimal("99.9")
    assert flag_is_on(rule, caller()) is False


def test_platforms_narrow_the_flag():
    rule = flag(everyone=True, platforms="ios")
    assert flag_is_on(rule, caller(platform="ios")) is True
    assert flag_is_on(rule, caller(platform="android")) is False
    assert flag_is_on(rule, caller()) is False


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.3.9", False),
        ("2.4.0", True),
        ("2.10.1", True),
        ("3.0.0", True),
        ("3.0.1", False),
        (None, False),
    ],
)
def test_version_range_is_inclusive_and_ordered_as_versions(version, expected):
    rule = flag(everyone=True, min_app_version="2.4.0", max_app_version="3.0.0")
    assert flag_is_on(rule, caller(platform="android", version=version)) is expected


def test_staff_rule_still_limited_by_version_range():
    rule = flag(staff=True, min_app_version="5.0")
    staff = UserFactory(is_staff=True)
    assert flag_is_on(rule, caller(staff, version="4.9")) is False
    assert flag_is_on(rule, caller(staff, version="5.0")) is True


def test_flag_model_refuses_unknown_platforms_and_unreadable_versions():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        Flag(name="x", platforms="ios,windows", min_app_version="two").full_clean()
    assert set(refused.value.message_dict) == {"platforms", "min_app_version"}
