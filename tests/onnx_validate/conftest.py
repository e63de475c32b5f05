"""pytest fixtures of tests/onnx_validate: they live in onnx_validate_common.py, which the tests import
by that unique name (every suite's conftest.py is the module `conftest`)."""

from onnx_validate_common import *  # noqa: F401,F403
