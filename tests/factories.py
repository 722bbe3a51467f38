import factory

from accounts.models import User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def connect(a: User, b: User):
    """An accepted connection between two users: whom they may share with."""
    from social.models import Connection, ConnectionStatus

    return Connection.objects.create(requester=a, addressee=b, status=ConnectionStatus.ACCEPTED)
