"""The portable suite, run inside real MicroPython (WebAssembly build) by tools/mpy/run.mjs.

The count check is what makes this trustworthy: MicroPython must run exactly as many tests as
CPython's unittest loader finds in the same modules, so a module or class that silently drops out
(an import that fails, a class-level skip decorator micropython-lib does not support) fails here.
"""

import importlib
import json
import re
import unittest

from tests import mpy, portable
from tests.test_manifest import MICROPYTHON_TESTCASE_API
from tests.test_portable_imports import MICROPYTHON_API

RESULT_LINE = re.compile(r"^MPY-RESULT (\{.*\})$", re.M)
SUMMARY_LINE = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", re.M)


def _output(proc):
    return "exit status %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (proc.returncode, proc.stdout,
                                                                     proc.stderr)


def _result(proc):
    found = RESULT_LINE.findall(proc.stdout)
    assert len(found) == 1, "no single MPY-RESULT line\n" + _output(proc)
    return json.loads(found[0])


def _cpython_test_count(names):
    loader = unittest.TestLoader()
    return sum(loader.loadTestsFromModule(importlib.import_module("tests." + name)).countTestCases()
               for name in names)


def test_runner_executes_micropython_not_cpython():
    mpy.require_micropython()
    proc = mpy.run_source("import sys\nprint(sys.implementation.name, sys.implementation.version)\n")
    assert proc.returncode == 0, _output(proc)
    assert proc.stdout.split()[0] == "micropython", _output(proc)


def test_portable_suite_passes_in_micropython():
    mpy.require_micropython()
    proc = mpy.run_micropython(["--suite"], timeout=120)
    assert proc.returncode == 0, _output(proc)
    result = _result(proc)
    assert result["failures"] == 0 and result["errors"] == 0, _output(proc)
    expected = _cpython_test_count(portable.PORTABLE)
    assert result["run"] == expected, (
        "MicroPython ran %d tests, CPython's loader finds %d in PORTABLE\n%s"
        % (result["run"], expected, _output(proc)))
    assert SUMMARY_LINE.search(proc.stdout), _output(proc)


SELFTEST_MODULE = '''
import unittest

class Sample(unittest.TestCase):
    def test_passes(self):
        pass

    def test_fails(self):
        self.assertEqual(1, 2)

    def test_errors(self):
        raise KeyError("k")

    def test_skips(self):
        self.skipTest("why")

class BrokenSetUp(unittest.TestCase):
    def setUp(self):
        raise RuntimeError("setup broke")

    def test_never_runs(self):
        pass
'''

SELFTEST_SCRIPT = '''
import os, sys
os.mkdir("/tmp/selftest")
with open("/tmp/selftest/selftest_mod.py", "w") as f:
    f.write(%r)
sys.path.insert(0, "/tmp/selftest")
import mpy_driver
sys.exit(mpy_driver.run_suite(["selftest_mod", "selftest_missing"]))
''' % SELFTEST_MODULE


def test_runner_reports_failures_errors_skips_and_crashes_loudly():
    mpy.require_micropython()
    proc = mpy.run_source(SELFTEST_SCRIPT)
    assert proc.returncode == 1, _output(proc)
    # errors: test_errors, BrokenSetUp's setUp (micropython-lib lets it escape), the missing module
    assert _result(proc) == {"run": 4, "failures": 1, "errors": 3, "skipped": 1}, _output(proc)
    assert SUMMARY_LINE.findall(proc.stdout) == [("1", "4", "1")], _output(proc)
    for text in ("FAIL: test_fails (selftest_mod.Sample)", "AssertionError", "KeyError",
                 "RuntimeError: setup broke", "ERROR: import selftest_missing", "ImportError"):
        assert text in proc.stdout, text + " missing\n" + _output(proc)


def test_exec_forwards_exit_status_and_traceback():
    mpy.require_micropython()
    proc = mpy.run_source("import sys\nprint('out')\nsys.exit(3)\n")
    assert (proc.returncode, proc.stdout) == (3, "out\n"), _output(proc)
    proc = mpy.run_source("def f():\n    raise ValueError('boom')\nf()\n")
    assert proc.returncode == 1, _output(proc)
    assert "line 2, in f" in proc.stdout and "ValueError: boom" in proc.stdout, _output(proc)


def test_manifest_knows_micropython_testcase_api():
    """The list test_manifest checks portable tests against is the pinned runtime's real API."""
    mpy.require_micropython()
    proc = mpy.run_source("import unittest\n"
                          "print(' '.join(sorted(n for n in dir(unittest.TestCase) if n[0] != '_')))\n")
    assert proc.returncode == 0, _output(proc)
    assert set(proc.stdout.split()) == MICROPYTHON_TESTCASE_API


def test_portability_scan_knows_micropython_module_api():
    """Every attribute test_portable_imports allows exists in the pinned runtime."""
    mpy.require_micropython()
    script = "import %s\n" % ", ".join(sorted(MICROPYTHON_API))
    script += "".join("print(%r, ' '.join(n for n in %r if not hasattr(%s, n)))\n"
                      % (module, sorted(names), module) for module, names in MICROPYTHON_API.items())
    proc = mpy.run_source(script)
    assert proc.returncode == 0, _output(proc)
    missing = [line for line in proc.stdout.splitlines() if len(line.split()) > 1]
    assert not missing, "listed in MICROPYTHON_API but absent from MicroPython:\n" + "\n".join(missing)
