"""The Chinese edition's one vocabulary and one typography (issue 29), checked in the translation files
(notebooks/zh/translations/*.md) and README.zh-CN.md, outside code spans and code blocks.

Vocabulary (the book's terms, d2l-zh; the lecture videos' beside them only in 00's glossary):
stage 阶段 (not 模块), run profile 档位, cell 单元格, one-cycle 单周期学习率调度, BN's γ/β 拉伸参数/偏移参数
(d2l-zh 7.5), lesion study 删除实验, explorer 探索器 (never 浏览器, which reads as a web browser),
batch normalization 批量规范化 (书中（网页版与纸质版）; 批量归一化 is the videos' word: in 00's
glossary only).

Typography: full-width punctuation in Chinese text; a space between Chinese and Latin letters, digits,
code spans and math (as d2l-zh's 7.6 mostly does: "ResNet 沿用了 VGG", "有 2 个"), none beside
full-width punctuation; × for sizes (28×28, 1×1 卷积); brackets at most two deep.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "notebooks" / "zh" / "translations").glob("*.md")) + [ROOT / "README.zh-CN.md"]
GLOSSARY = ROOT / "notebooks" / "zh" / "translations" / "00_start_here.md"
GLOSSARY_LINE = "书中（网页版与纸质版）译作“批量规范化”，李沐课程视频称“批量归一化”。"

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
LATIN = "A-Za-z0-9%²³′\u0370-\u03ff"
SPAN = "\ue000"  # stands for a code span or inline math: Latin text, for spacing
GAP = "\ue001"  # stands for a link target or an HTML tag: neither Chinese nor Latin
FULL = "[，。；：！？、（）「」“”]"  # full-width punctuation: no space on either side

# (retired variant, what to write instead); a variant may be allowed once by ALLOWED below.
RETIRED = [
    (r"批量归一化", "批量规范化 (the book's term)"),
    (r"印刷版译作", "nothing: the book says 批量规范化 online and in print"),
    (r"归一化层", "规范化层"),
    (r"(?:每个|四个|三个|最后一个|逐个|这个|一个|第一个)模块", "阶段 (stage)"),
    (r"运行配置|运行档位|(?<!pip )配置(?=（run profile）)", "档位 (run profile)"),
    (r"单元(?!格|测试)", "单元格 (cell)"),
    (r"one-cycle(?![`_])|单周期(?!学习率调度)", "单周期学习率调度"),
    (r"缩放参数|平移参数", "拉伸参数/偏移参数 (d2l-zh 7.5)"),
    (r"损伤实验|删除残差块实验", "删除实验 (lesion study)"),
    (r"浏览器(?!中)", "探索器 (explorer); 浏览器 is a web browser only: 在浏览器中…"),
    (r"路线之后", "路径 (d2l-zh's exercise 1 says 路径)"),
    (r"负担得起", "在计算上可以承受"),
    (r"背后是一个", "配有一个"),
    (r"改装", "改为安装"),
]
# 00's glossary names the videos' terms and the English ones beside the book's
ALLOWED = {(GLOSSARY.name, "批量归一化"): 2, (GLOSSARY.name, "归一化层"): 1, (GLOSSARY.name, "one-cycle"): 1}


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, the line as a reader sees it) outside code blocks; code spans and math -> SPAN.
    A code comment's translation (`zh: # ...`) is prose too; the English it translates is not."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or line.startswith(("<!-- cell ", "<!-- code comments -->", "en: ")):
            continue  # markers, and the English comments a `zh:` line translates (tools/zh.py)
        line = re.sub(r"`[^`]*`|\$[^$]+\$", SPAN, line)
        line = re.sub(
            r"\]\([^)]*\)|<[^>]+>|https?://\S+", lambda m: "]" + GAP if m[0][0] == "]" else GAP, line
        )
        lines.append((number, line))
    return lines


def typography_problems(line: str) -> list[str]:
    """What one prose line breaks of the typography rule."""
    found = []
    # emphasis and link brackets are invisible: look through them. Markdown needs the space after
    # a bold run-in heading that ends in punctuation ("**小结。** 正文"), so that space is allowed.
    seen = re.sub(r"(?<=[。？！：）”])(\*+) ", r"\1", line)
    seen = re.sub(r"\*+|(?<![\w])_+|_+(?![\w])|[\[\]]", "", seen)
    L, C = f"[{LATIN}{SPAN}]", f"[{CJK}]"
    for m in re.finditer(f"{C}{L}|{L}{C}|(?<=[A-Za-z])\\.{C}", seen):  # "et al.直接" too
        found.append(
            f"no space between Chinese and Latin text: {seen[max(0, m.start() - 8) : m.end() + 8]!r}"
        )
    for m in re.finditer(f"{C}[,;:!?]|[,;:!?] *{C}|{C}\\(|\\){C}", seen):
        found.append(f"half-width punctuation in Chinese text: {seen[max(0, m.start() - 8) : m.end() + 8]!r}")
    for m in re.finditer(f"(?<=[^\\s|>#*.-]) +{FULL}|{FULL} +(?=[^\\s|])", seen):
        found.append(f"a space beside full-width punctuation: {seen[max(0, m.start() - 8) : m.end() + 8]!r}")
    for m in re.finditer(r"(?<![A-Za-z0-9_.])\d+x\d+(?![A-Za-z0-9_])", seen):
        found.append(f"x for a size (write ×): {m[0]!r}")
    depth = deepest = 0
    for ch in seen:
        depth += ch in "（(“"
        deepest = max(deepest, depth)
        depth -= ch in "）)”" and depth > 0
    if deepest > 2:
        found.append(f"brackets {deepest} deep: {seen[:60]!r}")
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_one_vocabulary(path):
    lines = prose(path.read_text(encoding="utf-8"))
    problems, counts = [], {}
    for number, line in lines:
        for pattern, instead in RETIRED:
            for m in re.finditer(pattern, line):
                key = (path.name, m[0])
                counts[key] = counts.get(key, 0) + 1
                if counts[key] > ALLOWED.get(key, 0):
                    problems.append(f"{path.name}:{number}: {m[0]!r} is retired: write {instead}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_one_typography(path):
    problems = [
        f"{path.name}:{n}: {p}"
        for n, line in prose(path.read_text(encoding="utf-8"))
        for p in typography_problems(line)
    ]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_the_glossary_gives_the_books_term_first_and_the_videos_beside_it():
    text = GLOSSARY.read_text(encoding="utf-8")
    assert GLOSSARY_LINE in text
    assert "| 批量规范化层 | 批量归一化层 |" in text and "| 汇聚层 | 池化层 |" in text
    assert "| 起始层 |" in text and "stem" in text


@pytest.mark.parametrize(
    "line, problem",
    [
        ("在Colab上运行", "no space"),
        ("在 Colab 上运行", None),
        ("用`d2l.train_ch6`训练", "no space"),
        ("用 `d2l.train_ch6` 训练", None),
        ("图片是 28x28 的", "×"),
        ("图片是 28×28 的", None),
        ("ResNeXt-50 (32x4d) 的", None),
        ("残差块,然后", "half-width"),
        ("残差块（residual block）", None),
        ("残差块 （residual block）", "space beside"),
        ("**残差块**ResNet", "no space"),
        ("**残差块** ResNet", None),
        ("Veit et al.直接测量", "no space"),
        ("Veit et al. 直接测量", None),
        ("层（批量归一化层（印刷版译作“批量规范化”））", "deep"),
    ],
)
def test_the_typography_check_catches_what_it_should(line, problem):
    found = typography_problems(prose(line)[0][1])
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_the_vocabulary_check_catches_a_retired_variant(tmp_path):
    line = prose("浏览器会构建这个块，每个模块两个块，损伤实验")[0][1]
    hits = [p for p, _ in RETIRED if re.search(p, line)]
    assert len(hits) == 3


def test_bold_renders_in_chinese_text():
    """CommonMark does not close `**` after full-width punctuation when a character follows
    (`**用时：**约` shows its asterisks): no translation may leave literal `**` on the page."""
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark")
    assert "**" in md.render("**用时：**约 13 分钟")  # the case this test guards against
    left = []
    for path in sorted((ROOT / "notebooks" / "zh" / "translations").glob("*.md")):
        for block in re.split(r"<!-- cell [^>]*-->", path.read_text(encoding="utf-8")):
            text = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", md.render(block), flags=re.S)
            left += [f"{path.name}: {m.group()!r}" for m in re.finditer(r".{0,12}\*\*.{0,12}", text)]
    assert not left, left


def test_comment_translations_are_checked_and_the_english_they_translate_is_not():
    text = "<!-- code comments -->\n\nen: # a one-cycle run at 96x96\nzh: # 单周期学习率调度，96x96\n"
    assert [line for _, line in prose(text) if line] == ["zh: # 单周期学习率调度，96x96"]
    assert typography_problems("zh: # 单周期学习率调度，96x96")  # the size wants ×
