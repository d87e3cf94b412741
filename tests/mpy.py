"""Run code inside real MicroPython (the WebAssembly build under Node) from CPython tests and benchmarks.

The runtime is tools/mpy/node_modules, installed by `npm ci --prefix tools/mpy` (tools/run-tests).
Tests call `require_micropython()` first: it skips loudly only when Node itself is absent and fails
when Node is there but the runtime was never installed, so MicroPython coverage cannot vanish quietly.
"""

import os
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_DIR = os.path.join(ROOT, "tools", "mpy")
RUNNER = os.path.join(MPY_DIR, "run.mjs")
RUNTIME = os.path.join(MPY_DIR, "node_modules", "@micropython", "micropython-webassembly-pyscript",
                       "micropython.mjs")
INSTALL_HINT = "run `npm ci --prefix tools/mpy` (tools/run-tests does it)"


def node_path():
    return shutil.which("node")


def node_available():
    return node_path() is not None


def runtime_installed():
    return os.path.isfile(RUNTIME)


def require_micropython():
    """In a pytest test: skip if Node is absent, fail if the MicroPython runtime is not installed."""
    import pytest

    if not node_available():
        pytest.skip("MICROPYTHON TESTS NOT RUN: Node.js (`node`, version 20+) is not on PATH, so the "
                    "portable core was NOT tested on MicroPython. Install Node 20 and " + INSTALL_HINT)
    if not runtime_installed():
        pytest.fail("MicroPython WebAssembly runtime missing (%s): %s" % (RUNTIME, INSTALL_HINT),
                    pytrace=False)


def run_micropython(args, timeout=120):
    """Run tools/mpy/run.mjs with `args` (e.g. ["--suite"] or ["--exec", path]); text output captured."""
    node = node_path()
    if node is None:
        raise RuntimeError("Node.js (`node`) is not on PATH; it runs MicroPython's WebAssembly build")
    if not runtime_installed():
        raise RuntimeError("MicroPython WebAssembly runtime missing: " + INSTALL_HINT)
    return subprocess.run([node, RUNNER] + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def run_source(source, args=(), timeout=120):
    """Run Python source as __main__ in MicroPython with agent/ and tests/ importable."""
    fd, path = tempfile.mkstemp(suffix=".py", prefix="mpy-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        return run_micropython(["--exec", path] + list(args), timeout=timeout)
    finally:
        os.remove(path)
