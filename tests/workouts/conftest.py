import pytest

from tests.conftest import client_for
from tests.factories import UserFactory


@pytest.fixture
def lifter(db):
    """A user of known body weight, so calorie estimates have exact expected values."""
    return UserFactory(weight_kg=80)


@pytest.fixture
def client_for_lifter(lifter):
    return client_for(lifter)
