"""The wheel carries every file the package reads at run time, not only its Python modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_has_every_data_file_of_the_package(tmp_path):
    # the data files the source tree has beside the modules (the eval suite, tables, the bundled index)
    tracked = subprocess.run(["git", "ls-files", "gerbil_lsp"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    files = tracked.stdout.split()
    data = {path for path in files if not path.endswith(".py")}
    assert "gerbil_lsp/eval/suite/questions.toml" in data
    # built from a copy of the tracked files: a build/ folder left in the checkout cannot lend it any
    source = tmp_path / "source"
    for path in [*files, "pyproject.toml", "README.md"]:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, source / path)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            str(source), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("gerbil_lsp-*.whl")
    assert data - set(zipfile.ZipFile(wheel).namelist()) == set()
