"""Fixtures the test files share."""

import pytest

from resnet_helpers.i18n import set_language


@pytest.fixture
def english():
    """The helpers speak English again after the test, whatever it set."""
    yield
    set_language("en")


@pytest.fixture
def in_chinese():
    """The helpers speak Chinese during the test (no font picked: text, not glyphs), English after.
    (Not built on `english`: a test parametrized with an `english` argument would replace it.)"""
    set_language("zh", font=False)
    yield
    set_language("en")
