"""Settings of the server the idle-socket test starts (its DJANGO_SETTINGS_MODULE).

The test settings with the channel layer's Redis read timeout lowered from 15 s to 8 s: still
above the layer's 5 s blocking pop, which is what keeps idle sockets alive, and short enough
that sockets idle past it within seconds instead of a minute.
"""

import copy

from tests.settings import *  # noqa: F403
from tests.settings import CHANNEL_LAYERS

READ_TIMEOUT_SECONDS = 8

CHANNEL_LAYERS = copy.deepcopy(CHANNEL_LAYERS)
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"] = READ_TIMEOUT_SECONDS
