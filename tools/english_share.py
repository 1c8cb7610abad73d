"""How much of a Chinese notebook a reader sees in English: a simple, stated measure.

    python tools/english_share.py                 # notebooks/zh/*.ipynb, one line each
    python tools/english_share.py path/to/a.ipynb ...

What counts is the text a reader sees: the rendered markdown (code spans, fenced code, math, HTML
tags and link targets left out) and the text outputs of the code cells (markdown, else HTML without
its tags, else plain text; images and widgets left out), and the code cells' comments, which a
reader reads as prose. Code itself is not counted.

In that text, an *English word* is a run of Latin letters (with ' or -) of two letters or more that
is not a code identifier or a name: words with an inner capital (ResNet, BatchNorm), all-capital
abbreviations (GPU, SGD), and words joined to digits, underscores or dots (d2l, train_ch6, nn.ReLU)
are left out. A Chinese character takes about the width of two Latin letters on screen, so

    English share = English letters / (English letters + 2 × Chinese characters)

which approximates the share of the text's screen width (not of its height: a figure is left out).
A maintainer's tool, run on a source checkout.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
TOKEN = re.compile(r"[A-Za-z0-9_.]*[A-Za-z][A-Za-z0-9_.'-]*")
FENCED = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
LINK_TARGET = re.compile(r"\]\([^)]*\)")
TAG = re.compile(r"<[^>]+>")
STYLE = re.compile(r"<style\b.*?</style>", re.S | re.I)
URL = re.compile(r"https?://\S+")


def visible_markdown(source: str) -> str:
    """The markdown a reader sees, less code, math, tags and link targets."""
    for pattern in (FENCED, CODE_SPAN, MATH, LINK_TARGET, TAG, URL):
        source = pattern.sub(" ", source)
    return source


def visible_outputs(cell) -> str:
    texts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                continue
            if "text/markdown" in data:
                texts.append(visible_markdown(data["text/markdown"]))
            elif "text/html" in data:
                texts.append(TAG.sub(" ", STYLE.sub(" ", data["text/html"])))  # a table's CSS is not read
            elif "text/plain" in data and not any(k.startswith("image/") for k in data):
                texts.append(data["text/plain"])
        elif out.output_type == "error":
            texts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(texts)


def code_comments(cell) -> str:
    """The comments of a code cell (tools/zh.py's reading of them: Python's comment tokens)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from zh import comments

    try:
        return "\n".join(text.lstrip("#") for _, _, text in comments(cell.source))
    except SyntaxError:
        return ""


def is_english_word(token: str) -> bool:
    word = token.strip("'-.")
    if len(word) < 2 or not word.isascii() or not word.replace("'", "").replace("-", "").isalpha():
        return False  # joined to digits, underscores or dots: an identifier (d2l, train_ch6, nn.ReLU)
    if word.isupper():
        return False  # an abbreviation: GPU, SGD, BN
    return not any(c.isupper() for c in word[1:])  # an inner capital: ResNet, BatchNorm


def counts(text: str) -> tuple[int, int]:
    """(English letters, Chinese characters) of a visible text."""
    english = sum(len(t.strip("'-.")) for t in TOKEN.findall(text) if is_english_word(t))
    return english, len(CJK.findall(text))


def english_share(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    md = [visible_markdown(c.source) for c in nb.cells if c.cell_type == "markdown"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    parts = {
        "markdown": counts("\n".join(md)),
        "outputs": counts("\n".join(visible_outputs(c) for c in code)),
        "comments": counts("\n".join(code_comments(c) for c in code)),
    }
    en, zh = sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values())
    result = {"notebook": path.name, "share": share(en, zh), "english_letters": en, "chinese_chars": zh}
    result.update({f"{name}_share": share(*part) for name, part in parts.items()})
    return result


def share(english: int, chinese: int) -> float:
    return english / (english + 2 * chinese) if english + chinese else 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/zh/*")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))
    widths = {"notebook": -30, "English share": 13, "markdown": 9, "outputs": 8, "comments": 9, "letters": 8}
    print(" ".join(f"{name:{'<' if w < 0 else '>'}{abs(w)}}" for name, w in widths.items()), f"{'汉字':>6}")
    for path in paths:
        r = english_share(path)
        print(
            f"{r['notebook']:30} {r['share']:13.0%} {r['markdown_share']:9.0%} {r['outputs_share']:8.0%} "
            f"{r['comments_share']:9.0%} {r['english_letters']:8d} {r['chinese_chars']:6d}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
