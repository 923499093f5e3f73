"""Colab opens and installs one pinned release, and the setup cell installs it only when needed."""

import importlib.metadata
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import pin_colab  # noqa: E402

ROOT = pin_colab.ROOT
FIRST = pin_colab.notebooks(ROOT)[0]


def test_every_badge_link_and_install_line_agrees_with_the_one_setting():
    assert pin_colab.problems(ROOT) == [], "run `make pin` (scripts/pin_colab.py) and commit"


def test_the_package_version_the_cell_checks_is_the_packages_own():
    import st_cookbook

    pin = pin_colab.read_pin()
    assert st_cookbook.__version__ == pin.version
    assert f'if cookbook_version() != "{pin.version}":' in pin.setup_header()


def _copy_tree(tmp_path: Path) -> Path:
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(FIRST, tmp_path / "notebooks" / FIRST.name)
    return tmp_path


def test_a_stray_link_or_install_line_is_named_and_pinning_fixes_it(tmp_path):
    root = _copy_tree(tmp_path)
    pin = pin_colab.read_pin(root)
    path = root / "notebooks" / FIRST.name
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace(f"/blob/{pin.ref}/", "/blob/main/")
    setup = next(cell for cell in nb.cells if cell.cell_type == "code")
    setup.source = setup.source.replace(pin.source, f"git+https://github.com/{pin.repository}")
    nbformat.write(nb, path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace(f"/blob/{pin.ref}/notebooks/", "/blob/main/notebooks/"))

    found = pin_colab.problems(root)
    assert any(FIRST.name in problem and "badge" in problem for problem in found), found
    assert any(FIRST.name in problem and "installs" in problem for problem in found), found
    assert any(problem.startswith("README.md:") for problem in found), found

    assert set(pin_colab.apply(root)) == {path, readme}
    assert pin_colab.problems(root) == []
    assert pin_colab.apply(root) == [], "pinning twice changes nothing"


def test_pointing_colab_at_a_fork_is_one_setting(tmp_path):
    root = _copy_tree(tmp_path)
    commit = "0123456789abcdef0123456789abcdef01234567"
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pin = pin_colab.read_pin(root)
    text = text.replace(f'repository = "{pin.repository}"', 'repository = "someone/cookbook-fork"')
    pyproject.write_text(text.replace(f'ref = "{pin.ref}"', f'ref = "{commit}"'))
    assert pin_colab.problems(root), "the old links disagree with the new setting"
    pin_colab.apply(root)
    assert pin_colab.problems(root) == []
    nb = nbformat.read(root / "notebooks" / FIRST.name, as_version=4)
    assert f"colab.research.google.com/github/someone/cookbook-fork/blob/{commit}/notebooks/{FIRST.name}" in (
        nb.cells[0].source
    )
    setup = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert f"git+https://github.com/someone/cookbook-fork@{commit}" in setup.source


def test_a_ref_that_is_neither_the_release_tag_nor_a_commit_is_reported(tmp_path):
    root = _copy_tree(tmp_path)
    pin = pin_colab.read_pin(root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'ref = "{pin.ref}"', 'ref = "main"'))
    assert any("neither the release tag" in problem for problem in pin_colab.problems(root))


class _Colab:
    """A stand-in for Colab's IPython: records the %pip lines a cell runs, and what they install."""

    def __init__(self, versions, installs):
        self.magics, self.versions, self.installs = [], versions, installs

    def run_line_magic(self, name, line):
        self.magics.append((name, line))
        self.versions.update(self.installs)


def _run_colab_part(monkeypatch, versions, installs=None, in_colab=True):
    """Run the Colab part of a committed notebook's setup cell, as Colab's IPython would.

    `versions` are what the runtime has before the cell (None: not installed), `installs` what
    a %pip line changes; anything else is the real installed version.
    """
    pin = pin_colab.read_pin()
    installs = {pin_colab.PACKAGE: pin.version} if installs is None else installs
    setup = next(cell for cell in nbformat.read(FIRST, as_version=4).cells if cell.cell_type == "code")
    header = setup.source[: setup.source.index(pin_colab.SETUP_TAIL)]
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    versions = dict(versions)
    real_version = importlib.metadata.version

    def version(name):
        if name not in versions:
            return real_version(name)
        if versions[name] is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(importlib.metadata, "version", version)
    ipython = _Colab(versions, installs)
    exec(TransformerManager().transform_cell(header), {"get_ipython": lambda: ipython})
    return ipython.magics


def test_in_colab_without_the_cookbook_the_cell_pip_installs_the_pinned_release(monkeypatch):
    pin = pin_colab.read_pin()
    magics = _run_colab_part(monkeypatch, {pin_colab.PACKAGE: None})
    assert magics == [("pip", f'install "{pin_colab.PACKAGE} @ {pin.source}"')]


def test_in_colab_with_the_release_already_installed_the_cell_installs_nothing(monkeypatch):
    pin = pin_colab.read_pin()
    assert _run_colab_part(monkeypatch, {pin_colab.PACKAGE: pin.version}) == []
    assert _run_colab_part(monkeypatch, {pin_colab.PACKAGE: "0.0.1"}) != [], "another version is replaced"


def test_outside_colab_the_cell_installs_nothing(monkeypatch):
    assert _run_colab_part(monkeypatch, {pin_colab.PACKAGE: None}, in_colab=False) == []


def test_a_failed_install_stops_the_notebook_at_the_setup_cell(monkeypatch):
    with pytest.raises(RuntimeError, match="pip did not install st-finetuning-cookbook"):
        _run_colab_part(monkeypatch, {pin_colab.PACKAGE: None}, installs={})


def test_an_upgrade_of_an_imported_library_asks_for_a_restart(monkeypatch):
    import transformers

    pin = pin_colab.read_pin()
    assert "transformers" in sys.modules
    upgrade = {pin_colab.PACKAGE: pin.version, "transformers": transformers.__version__ + "1"}
    with pytest.raises(RuntimeError, match="transformers.*Restart session"):
        _run_colab_part(monkeypatch, {pin_colab.PACKAGE: None}, installs=upgrade)
