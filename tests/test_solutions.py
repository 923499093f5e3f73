"""Every exercise in every notebook has a worked solution in docs/solutions/, kept out of the notebook."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = ROOT / "docs" / "solutions"


def exercise_numbers(path: Path) -> list[int]:
    markdown = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    section = markdown.split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return [int(number) for number in re.findall(r"^(\d+)\. ", section, re.M)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(notebook):
    solution = SOLUTIONS / f"{notebook.stem}.md"
    assert solution.is_file(), f"write {solution.relative_to(ROOT)}: one '## Exercise N' section per exercise"
    text = solution.read_text()
    assert f"../../notebooks/{notebook.name}" in text, "link the solutions to their notebook"
    solved = [int(n) for n in re.findall(r"^## Exercise (\d+)\s*$", text, re.M)]
    assert solved == exercise_numbers(notebook), f"{solution.name}: sections {solved}, notebook exercises differ"


@pytest.mark.parametrize("solution", sorted(SOLUTIONS.glob("*.md")), ids=lambda p: p.stem)
def test_solution_code_is_python_and_names_a_real_notebook(solution):
    assert (ROOT / "notebooks" / f"{solution.stem}.ipynb").is_file(), f"{solution.name} solves no notebook"
    blocks = re.findall(r"```python\n(.*?)```", solution.read_text(), re.S)
    assert blocks, f"{solution.name} has no code"
    for block in blocks:
        ast.parse(block)
