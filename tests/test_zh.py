"""The Chinese edition's build (tools/zh.py): translations replace markdown and code comments, never
code; stale and missing ones are named; the outputs are the Chinese notebook's own, from its own run."""

import nbformat
import pytest

import zh

SLUG = "owner/repo"


def _notebook(path, markdown=("# Title\n\nIntro", "## Part 2")):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown]
    code = nbformat.v4.new_code_cell("print(1 + 1)", metadata={"tags": ["nbval-check-output"]})
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.cells.insert(1, code)
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
    nbformat.write(nb, path)
    return nb


def _translate(nb, texts):
    blocks = []
    for cell, text in zip([c for c in nb.cells if c.cell_type == "markdown"], texts, strict=True):
        blocks.append(f"<!-- cell {cell.id} | en {zh.en_hash(cell.source)} -->\n{text}\n")
    return {t.cell_id: t for t in _parse("\n".join(blocks))}


def _parse(text, tmp=None):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.md"
        path.write_text(text, encoding="utf-8")
        return list(zh.read_translations(path).values())


def test_build_keeps_code_and_tags_replaces_markdown_and_takes_no_english_output(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    built, problems = zh.build(path, _translate(nb, ["# 标题\n\n介绍", "## 第二部分"]), SLUG)
    assert problems == []
    assert built.cells[1].source == nb.cells[1].source and built.cells[1].metadata == nb.cells[1].metadata
    assert built.cells[1].outputs == []  # never the English output: the Chinese run gives its own
    assert built.cells[0].source.startswith("# 标题\n\n[![Open In Colab]")
    assert "notebooks/zh/01_x.ipynb" in built.cells[0].source  # the badge points to itself
    assert built.cells[2].source == "## 第二部分"


def test_the_chinese_setup_cell_sets_the_language_and_nothing_else_changes(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    nb.cells[1].source = "# Setup: install, report\nP = 1"
    nbformat.write(nb, path)
    built, _ = zh.build(path, _translate(nb, ["# 标题", "## 第二部分"]), SLUG)
    assert built.cells[1].source == nb.cells[1].source + zh.LANGUAGE_LINE
    assert 'set_language("zh")' in zh.LANGUAGE_LINE


def test_a_changed_english_cell_is_named_stale(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    translations = _translate(nb, ["# 标题", "## 第二部分"])
    _notebook(path, markdown=("# Title\n\nIntro", "## Part 2, revised"))
    built, problems = zh.build(path, translations, SLUG)
    assert len(problems) == 1 and "cell c2" in problems[0] and "changed in English" in problems[0]
    assert built.cells[2].source == "## 第二部分"  # the old translation stays until updated


def test_a_missing_translation_is_named(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    translations = _translate(nb, ["# 标题", "## 第二部分"])
    del translations["c0"]
    _, problems = zh.build(path, translations, SLUG)
    assert problems == ["01_x.ipynb: markdown cell c0 (#0) has no translation"]


def test_translation_files_round_trip_multiline_blocks():
    text = (
        "<!-- cell a1 | en 0123456789ab -->\n第一段\n\n第二段\n\n<!-- cell b2 | en ba9876543210 -->\n表格\n"
    )
    found = {t.cell_id: t for t in _parse(text)}
    assert found["a1"].text == "第一段\n\n第二段" and found["a1"].en_hash == "0123456789ab"
    assert found["b2"].text == "表格"


@pytest.mark.parametrize("bad", ["<!-- cell a1 | en xyz -->\n文本\n", "no markers at all\n"])
def test_text_outside_a_marked_block_is_not_a_translation(bad):
    assert _parse(bad) == []


def test_the_chinese_edition_is_built_from_current_translations():
    """notebooks/zh/ is what `make zh` gives from today's English notebooks, and no translation is
    missing or stale (each problem names the notebook and the markdown cell)."""
    problems = zh.check()
    assert not problems, "\n".join(problems)


def test_todo_takes_a_notebook_name_with_or_without_the_suffix(tmp_path, monkeypatch, capsys):
    """`python tools/zh.py --todo 01_x` names the same notebook as `01_x.ipynb` or `notebooks/01_x.ipynb`
    (without the suffix it looked for a file called `01_x` and failed); an unknown name is named."""
    monkeypatch.setattr(zh, "EN", tmp_path)
    monkeypatch.setattr(zh, "ZH", tmp_path / "zh")
    _notebook(tmp_path / "01_x.ipynb")
    outputs = []
    for given in ("01_x.ipynb", "01_x", "notebooks/01_x.ipynb"):
        assert zh.main(["--todo", given]) == 0
        outputs.append(capsys.readouterr().out)
    assert "<!-- cell c0 | en " in outputs[0] and "## Part 2" in outputs[0]
    assert outputs[0] == outputs[1] == outputs[2]
    with pytest.raises(SystemExit):
        zh.main(["--todo", "09_nothing"])
    assert "09_nothing" in capsys.readouterr().err


def _executed(built, text="4\n"):
    """`built` as if executed: every code cell printed `text`."""
    nb = nbformat.from_dict(built)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
            cell.execution_count = 1
    return nb


def test_a_rebuild_keeps_the_chinese_outputs_of_unchanged_cells_and_clears_changed_ones(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    translations = _translate(nb, ["# 标题", "## 第二部分"])
    built, _ = zh.build(path, translations, SLUG)
    run = _executed(built, "四\n")
    again, _ = zh.build(path, translations, SLUG, executed=run)
    assert again.cells[1].outputs == run.cells[1].outputs  # the Chinese run's output, kept
    assert zh.unexecuted(nb, again) == []
    nb.cells[1].source = "print(2 + 2)"
    nbformat.write(nb, path)
    changed, _ = zh.build(path, translations, SLUG, executed=run)
    assert changed.cells[1].source == "print(2 + 2)" and changed.cells[1].outputs == []
    assert zh.unexecuted(nb, changed) == ["c1"]  # the check asks for a run


def test_comments_are_translated_and_the_code_is_not(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    nb.cells[1].source = (
        "# Setup: report\nx = '# not a comment'  # a string\n%time y = 1  # magic\nz = 1  # noqa: E731"
    )
    nbformat.write(nb, path)
    table = {"# Setup: report": "# 设置：报告", "# a string": "# 一个字符串"}
    built, problems = zh.build(path, _translate(nb, ["# 标题", "## 第二部分"]), SLUG, table)
    assert problems == []  # the magic line is IPython's, the noqa a pragma: neither is asked for
    source = built.cells[1].source
    assert source.startswith("# 设置：报告\nx = '# not a comment'  # 一个字符串\n%time y = 1  # magic\n")
    assert "z = 1  # noqa: E731" in source and source.endswith(zh.LANGUAGE_LINE)  # still the setup cell
    assert zh.strip_comments(source.removesuffix(zh.LANGUAGE_LINE)) == zh.strip_comments(nb.cells[1].source)


def test_a_comment_without_translation_and_an_unused_translation_are_named(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nb = _notebook(path)
    nb.cells[1].source = "x = 1  # one, revised"
    nbformat.write(nb, path)
    table = {"# one": "# 一"}
    built, problems = zh.build(path, _translate(nb, ["# 标题", "## 第二部分"]), SLUG, table)
    assert built.cells[1].source == "x = 1  # one, revised"  # English until translated, and named:
    assert problems == [
        "01_x.ipynb: code cell c1 (#1): comment '# one, revised' has no translation",
        "01_x.ipynb: the translation of comment '# one' is not used: no code cell has it any more",
    ]


def test_translation_files_hold_the_comments_after_the_cells(tmp_path):
    path = tmp_path / "t.md"
    path.write_text(
        "<!-- cell a1 | en 0123456789ab -->\n第一段\n\n<!-- code comments -->\n\n"
        "en: # one  \nzh: # 一\n\nen: # two, with: punctuation\nzh: # 二，带标点\n",
        encoding="utf-8",
    )
    assert zh.read_translations(path)["a1"].text == "第一段"
    assert zh.read_comments(path) == {"# one": "# 一", "# two, with: punctuation": "# 二，带标点"}


def test_every_chinese_notebook_runs_the_english_code():
    """Cell by cell, the committed Chinese notebooks' code is the English notebooks' code, the
    language line and the comments aside; and their outputs are their own run's, not copies."""
    for english in zh.notebooks(zh.EN):
        en = nbformat.read(english, as_version=4)
        cn = nbformat.read(zh.ZH / english.name, as_version=4)
        assert [c.get("id") for c in cn.cells] == [c.get("id") for c in en.cells], english.name
        for e, c in zip(en.cells, cn.cells, strict=True):
            if e.cell_type == "code":
                code = c.source.replace(zh.LANGUAGE_LINE, "")
                assert zh.strip_comments(code) == zh.strip_comments(e.source), (english.name, e.get("id"))
        outputs = [c.outputs for c in cn.cells if c.cell_type == "code" and c.outputs]
        assert outputs and outputs != [e.outputs for e in en.cells if e.cell_type == "code" and e.outputs]
