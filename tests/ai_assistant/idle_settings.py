"""Settings of the server the idle-socket test starts (its DJANGO_SETTINGS_MODULE).

The test settings with the channel layer's blocking pop shortened from 5 s to 2 s and the
Redis read timeout from 15 s to 3 s: the timeout still outlasts the pop, which is what keeps
idle sockets alive, and sockets idle past both within seconds instead of a minute.
"""

import copy

from fitness.channel_layers import RedisChannelLayer
from tests.settings import *  # noqa: F403
from tests.settings import CHANNEL_LAYERS

BLOCKING_POP_SECONDS = 2
READ_TIMEOUT_SECONDS = 3


class QuickPopChannelLayer(RedisChannelLayer):
    brpop_timeout = BLOCKING_POP_SECONDS


CHANNEL_LAYERS = copy.deepcopy(CHANNEL_LAYERS)
CHANNEL_LAYERS["default"]["BACKEND"] = "tests.ai_assistant.idle_settings.QuickPopChannelLayer"
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"] = READ_TIMEOUT_SECONDS
