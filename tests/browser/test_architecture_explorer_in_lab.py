"""Notebook 03's architecture explorer, driven in a real JupyterLab: sliders, buttons, block type."""

import pytest
from lab import (
    click_toggle,
    run_notebook_panel,
    select_option,
    slider_keys,
    slider_value,
    wait_for_text,
)

from resnet_helpers.lessons.architecture import explore_architecture, format_headline

pytestmark = pytest.mark.browser


def headline(**kwargs) -> str:
    return format_headline(explore_architecture(**kwargs))


def test_architecture_explorer_follows_its_controls(page, lab, artifacts):
    b2_label = ".widget-label:text-is('blocks in b2')"
    notebook = "03_resnet_architecture.ipynb"
    panel, report = run_notebook_panel(page, lab, notebook, lambda p: p.locator(b2_label))

    # the course's ResNet-18 to start with
    text = wait_for_text(report, "ResNet-18: depth 18 (weight layers), 11,178,378 parameters")
    assert "b5" in text and "(1, 512, 7, 7)" in text, text
    panel.screenshot(path=str(artifacts / "03_architecture_resnet18.png"))

    # a preset button: ResNet-34
    panel.locator("button", has_text="ResNet-34").click()
    wait_for_text(report, "ResNet-34: depth 34 (weight layers), 21,290,250 parameters")

    # the keyboard on a slider: one more block in b2 gives a custom 36-layer network
    slider_keys(panel, "blocks in b2", "ArrowRight")
    assert slider_value(panel, "blocks in b2") == "4"
    expected = headline(blocks=(4, 4, 6, 3))
    assert "36-layer" in expected
    wait_for_text(report, expected)

    # block type: bottlenecks
    click_toggle(panel, "bottleneck")
    wait_for_text(report, headline(blocks=(4, 4, 6, 3), block="bottleneck"))
    panel.screenshot(path=str(artifacts / "03_architecture_bottleneck.png"))

    # ResNeXt blocks, then the paper's option A shortcuts
    click_toggle(panel, "ResNeXt")
    wait_for_text(report, headline(blocks=(4, 4, 6, 3), block="resnext"))
    select_option(panel, "shortcut", "zero-pad (option A)")
    expected = headline(blocks=(4, 4, 6, 3), block="resnext", shortcut="zero_pad")
    assert expected != headline(blocks=(4, 4, 6, 3), block="resnext")
    wait_for_text(report, expected)
    panel.screenshot(path=str(artifacts / "03_architecture_resnext_option_a.png"))

    # a resolution that vanishes: the panel explains instead of failing
    slider_keys(panel, "resolution", "Home")
    text = wait_for_text(report, "Impossible setting")
    assert "too small" in text and "Traceback" not in text, text
    panel.screenshot(path=str(artifacts / "03_architecture_impossible.png"))
