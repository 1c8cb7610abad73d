"""Notebook 02's block explorer, driven in a real JupyterLab: the page must follow the controls."""

import pytest
from lab import (
    click_toggle,
    run_notebook_panel,
    select_option,
    set_checkbox,
    set_number,
    wait_for_text,
)

from resnet_helpers.lessons.residual_block import explore_block

pytestmark = pytest.mark.browser


def total_params(**kwargs) -> str:
    """The total the callback computes, as the report prints it."""
    return f"{explore_block(**kwargs)['params']:,}"


def test_block_explorer_follows_its_controls(page, lab, artifacts):
    panel, report = run_notebook_panel(
        page, lab, "02_residual_block.ipynb", lambda p: p.locator(".widget-toggle-buttons")
    )

    # starts as the course's 64 -> 64 block on a 56x56 image
    text = wait_for_text(report, "input (1, 64, 56, 56) -> output (1, 64, 56, 56)")
    assert "74,112" in text, text  # 18c² + 6c for c = 64
    panel.screenshot(path=str(artifacts / "02_block_explorer_start.png"))

    # more output channels without a 1x1 convolution: the clear message, not a traceback
    set_number(panel, "output channels", 128)
    text = wait_for_text(report, "the input has 64 channels but the block outputs 128")
    assert "Traceback" not in text and "use_1x1conv=True" in text
    panel.screenshot(path=str(artifacts / "02_block_explorer_error.png"))

    # the fix the message names, then stride 2: the course's first block of stage 3
    set_checkbox(panel, "use_1x1conv", True)
    wait_for_text(report, "output (1, 128, 56, 56)")
    select_option(panel, "stride", "2")
    text = wait_for_text(report, "output (1, 128, 28, 28)")
    assert "230,272" in text, text
    assert (
        total_params(block="basic", input_channels=64, output_channels=128, strides=2, use_1x1conv=True)
        == "230,272"
    )

    # another block type: the bottleneck's numbers, as the callback computes them
    click_toggle(panel, "bottleneck")
    expected = total_params(
        block="bottleneck", input_channels=64, output_channels=128, strides=2, use_1x1conv=True
    )
    text = wait_for_text(report, "Bottleneck: input (1, 64, 56, 56) -> output (1, 128, 28, 28)")
    assert expected in text, (expected, text)
    panel.screenshot(path=str(artifacts / "02_block_explorer_bottleneck.png"))

    # ResNeXt: a grouped 3x3 convolution, and its groups control
    click_toggle(panel, "ResNeXt")
    kwargs = dict(block="resnext", input_channels=64, output_channels=128, strides=2, use_1x1conv=True)
    text = wait_for_text(report, "ResNeXt: input (1, 64, 56, 56) -> output (1, 128, 28, 28)")
    assert total_params(**kwargs) in text and "32 groups" in text, text
    select_option(panel, "ResNeXt groups", "4")
    text = wait_for_text(report, "conv 3x3, stride 2, 4 groups")
    assert total_params(**kwargs, groups=4) in text, text
    assert panel.locator(".widget-output img").count() == 1  # the block's drawing beside the table
    panel.screenshot(path=str(artifacts / "02_block_explorer_resnext.png"))
