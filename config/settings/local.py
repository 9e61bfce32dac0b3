"""Settings for `make run` on a single machine: embedded database and broker."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# A fixed key is acceptable only because this module never serves production:
# production.py refuses to start without SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="rapport-local-development-key-not-for-production")
