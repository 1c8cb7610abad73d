"""The Chinese edition in a real JupyterLab: the text renders in a CJK font (no empty boxes)."""

import pytest
from lab import open_notebook

pytestmark = pytest.mark.browser

# Draws a character in the font of the first markdown cell and compares its pixels with those of
# a character no font has (U+10FFFD, private use): a missing glyph is drawn as the same empty box.
GLYPHS_DRAWN = """(chars) => {
    const cell = document.querySelector('.jp-MarkdownCell .jp-RenderedMarkdown');
    const family = getComputedStyle(cell).fontFamily;
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 64;
    const g = canvas.getContext('2d');
    const draw = (ch) => {
        g.clearRect(0, 0, 64, 64);
        g.font = '48px ' + family;
        g.fillText(ch, 4, 52);
        return g.getImageData(0, 0, 64, 64).data.join(',');
    };
    const missing = draw(String.fromCodePoint(0x10FFFD));
    return chars.split('').map((ch) => [ch, draw(ch) !== missing]);
}"""


@pytest.mark.parametrize("name", ["00_start_here.ipynb", "04_training.ipynb"])
def test_chinese_notebook_renders_its_text(page, lab, artifacts, name):
    open_notebook(page, lab, f"zh/{name}")
    objectives = page.locator(".jp-RenderedMarkdown", has_text="在本笔记本中，你将学到").first
    objectives.wait_for(timeout=30_000)
    assert objectives.is_visible()
    drawn = dict(page.evaluate(GLYPHS_DRAWN, "残差网络批量归一化层汇聚层步幅通道"))
    assert all(drawn.values()), f"drawn as empty boxes (install a CJK font): {drawn}"
    page.screenshot(path=str(artifacts / f"zh_{name.removesuffix('.ipynb')}.png"))
