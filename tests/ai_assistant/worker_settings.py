"""Settings of the Celery workers that the worker tests start (their DJANGO_SETTINGS_MODULE).

The test settings (same TEST_RUN_ID, inherited from the test process, so the same cache and
channel-layer prefixes), with the real broker instead of eager tasks, and the test run's
own database, which the test process created.
"""

import copy
import os

from tests.ai_assistant.worker import broker_transport_options
from tests.settings import *  # noqa: F403
from tests.settings import AI_SERVICE, DATABASES, REDIS_URL, RUN_ID

DATABASES = copy.deepcopy(DATABASES)
DATABASES["default"]["NAME"] = DATABASES["default"]["TEST"]["NAME"]

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(RUN_ID)

MEDIA_ROOT = os.environ["WORKER_MEDIA_ROOT"]
# The client's own retries back off quickly, as in the test process.
AI_SERVICE = {
    **AI_SERVICE,
    "RETRY": {"max_attempts": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
}
