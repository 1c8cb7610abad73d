"""Small steps a student takes in JupyterLab, for the browser tests."""

from __future__ import annotations

import time


def open_notebook(page, lab, name: str):
    """Open a notebook in a fresh workspace and wait until its kernel is idle."""
    base, token = lab
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")  # reset: no tabs restored from an earlier test
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    deadline = time.monotonic() + 60
    idle_since = None
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():  # in case JupyterLab still asks which kernel to start: the notebook's own
            dialog.locator("button", has_text="Select").click()
        idle = (
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() and not dialog.count()
        )
        idle_since = (idle_since or time.monotonic()) if idle else None
        if idle_since and time.monotonic() - idle_since > 2:  # idle, and stays so
            return
        time.sleep(0.25)
    raise AssertionError(
        f"the kernel of {name} did not become idle:\n" + page.locator("body").inner_text()[-3000:]
    )


def menu(page, menu_name: str, item: str):
    """Click a menu bar entry, then one of its items (by its visible text)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=menu_name).first.click()
    page.locator("li.lm-Menu-item .lm-Menu-itemLabel", has_text=item).first.click()


def run_all_cells(page, timeout: float = 240):
    """Clear the saved outputs, Run > Run All Cells, wait until every code cell has run; fail on an error."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + timeout
    while True:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        pending = [p for p in prompts if "*" in p or p.strip() in ("[ ]:", "")]
        if prompts and not pending:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"cells still running after {timeout}s: {len(pending)} of {len(prompts)}")
        time.sleep(1)
    errors = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()
    tracebacks = [e for e in errors if "Traceback" in e]
    assert not tracebacks, "a cell failed:\n" + "\n".join(tracebacks)[:4000]


def run_notebook_panel(page, lab, name: str, has):
    """Open notebook `name`, unfold every code cell (View > Expand All Code: the solutions' code is
    folded, and a folded cell shows no prompt, which `run_all_cells` would read as still running),
    run all its cells, and return (panel, its output area): the first widget box that contains the
    element `has(page)` locates, scrolled into view."""
    open_notebook(page, lab, name)
    menu(page, "View", "Expand All Code")
    run_all_cells(page)
    panel = page.locator(".widget-vbox", has=has(page)).first
    panel.scroll_into_view_if_needed()
    return panel, panel.locator(".widget-output")


def wait_for_text(locator, text: str, timeout: float = 20) -> str:
    """Wait until `locator`'s text contains `text`; fail showing what the page says instead."""
    deadline = time.monotonic() + timeout
    while True:
        content = locator.inner_text() if locator.count() else ""
        if text in content:
            return content
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {text!r} on the page; it shows:\n{content[-4000:]}")
        time.sleep(0.25)


def set_number(panel, label: str, value: int):
    box = panel.locator(".widget-text", has=panel.page.locator(f".widget-label:text-is('{label}')"))
    field = box.locator("input")
    field.fill(str(value))
    field.press("Enter")


def select_option(panel, label: str, value: str):
    box = panel.locator(".widget-dropdown", has=panel.page.locator(f".widget-label:text-is('{label}')"))
    box.locator("select").select_option(label=value)


def click_toggle(panel, text: str):
    panel.locator(".widget-toggle-button", has_text=text).first.click()


def set_checkbox(panel, text: str, checked: bool):
    box = panel.locator(".widget-checkbox", has_text=text)
    box.locator("input[type=checkbox]").set_checked(checked)


def slider_keys(panel, label: str, *keys: str):
    """Focus a slider's handle and press keys (ArrowRight, ArrowLeft, Home, End), as a keyboard user does."""
    box = panel.locator(".widget-slider", has=panel.page.locator(f".widget-label:text-is('{label}')"))
    handle = box.locator(".noUi-handle")
    handle.focus()
    for key in keys:
        handle.press(key)


def slider_value(panel, label: str) -> str:
    box = panel.locator(".widget-slider", has=panel.page.locator(f".widget-label:text-is('{label}')"))
    return box.locator(".widget-readout").inner_text()
