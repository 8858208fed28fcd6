"""A non-editable install of the helpers ships every subpackage, not just the top one."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_contains_every_helpers_module(tmp_path):
    build = ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w"]
    done = subprocess.run(
        [sys.executable, "-m", "pip", *build, str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "helpers").rglob("*.py")}
    assert modules <= shipped, f"missing from the wheel: {sorted(modules - shipped)}"
