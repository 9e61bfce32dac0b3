"""Settings for `make run` on a single machine: embedded database and broker."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# A fixed key is acceptable only because this module never serves production:
# production.py refuses to start without SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="rapport-local-development-key-not-for-production")
# The demo's logins (README, Demo logins) work without an authenticator app;
# anyone who enrols one is still asked for it. Never in production: `check --deploy` fails.
TWO_FACTOR_DEMO_EXEMPT = env.bool("TWO_FACTOR_DEMO_EXEMPT", default=True)
