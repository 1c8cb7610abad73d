"""panel_output: the panels' drop-in for interactive_output that never asks a front end to capture."""

import ipywidgets as widgets
import pytest
from IPython.display import HTML, display

from resnet_helpers.lessons.widgets import captured_outputs, panel_output


@pytest.fixture(scope="module", autouse=True)
def ipython_shell():
    from IPython.testing.globalipapp import start_ipython

    return start_ipython()  # displays are captured only inside an IPython shell


def draw(k, family):
    print(f"k={k}")
    display(HTML(f"<b>{family}</b>"))


def test_outputs_are_set_in_the_kernel_and_follow_the_controls():
    k, family = widgets.IntSlider(value=3), widgets.Dropdown(options=["a", "b"], value="a")
    seen = []
    out = panel_output(lambda **v: (seen.append(v), draw(**v)), {"k": k, "family": family})
    assert seen == [{"k": 3, "family": "a"}]
    assert out.msg_id == ""  # never the capture protocol (with out: ...) that nbclient must answer
    stream, shown = out.outputs
    assert stream == {"output_type": "stream", "name": "stdout", "text": "k=3\n"}
    assert shown["output_type"] == "display_data" and "a" in str(shown["data"])
    k.value = 7
    family.value = "b"
    assert len(seen) == 3 and out.outputs[0]["text"] == "k=7\n" and "b" in str(out.outputs[1]["data"])
    assert out.msg_id == ""


def test_an_exception_becomes_an_error_output():
    def broken():
        print("before")
        raise ValueError("no such depth")

    stream, error = captured_outputs(broken)
    assert stream["text"] == "before\n"
    assert error["output_type"] == "error" and error["ename"] == "ValueError"
    assert error["evalue"] == "no such depth" and "ValueError" in error["traceback"][-1]


def test_png_bytes_are_base64_text():
    from IPython.display import Image

    png = b"\x89PNG\r\n\x1a\n" + bytes(16)
    (shown,) = captured_outputs(lambda: display(Image(png, format="png")))
    assert isinstance(shown["data"].get("image/png", ""), str)
