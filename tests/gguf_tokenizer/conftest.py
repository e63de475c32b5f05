"""pytest fixtures of tests/gguf_tokenizer: they live in gguftok_common.py, which the tests import by that
unique name (every suite's conftest.py is the module `conftest`, so importing it by name
would pick another suite's)."""

from gguftok_common import *  # noqa: F401,F403
