"""Fixtures shared by the Hub tests."""

import pytest

from hub_testlib import Tool, hub_tool_path


@pytest.fixture(scope="module")
def tool() -> Tool:
    """The hub_tool test driver of the C++ Hub client."""
    return Tool(hub_tool_path())
