"""A non-editable install of the helpers ships every subpackage, not just the top one."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_contains_every_module_of_the_lessons_and_the_engine(tmp_path):
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
    files = [p for room in ("helpers", "lab") for p in (ROOT / room).rglob("*") if p.is_file()]
    modules = {str(p.relative_to(ROOT)) for p in files if p.suffix in (".py", ".toml")}
    assert {"lab/brokers/__init__.py", "lab/revision/questions.toml"} <= modules
    assert modules <= shipped, f"missing from the wheel: {sorted(modules - shipped)}"
