"""pytest fixtures of tests/generation: they live in chat_common.py, which the tests import by that
unique name (every suite's conftest.py is the module `conftest`, so importing it by name
would pick another suite's)."""

from chat_common import *  # noqa: F401,F403
