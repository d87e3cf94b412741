"""tests/portable.py cannot rot: every test module is classified once, and portable ones stay portable.

A portable module runs unchanged in MicroPython (tools/mpy/run.mjs), so it may import only unittest,
the common subset, agent.* and test helpers that obey the same rules, and may use only what
micropython-lib's unittest offers. Breaking these rules would otherwise show up only as an error
inside the MicroPython run, or not at all (a module-level test function is never collected there).
"""

import ast
import os
import unittest

import pytest

from tests import portable
from tests.test_portable_imports import (COMMON_SUBSET, PORTABLE_HAL_MODULES, ROOT,
                                         construct_findings, iter_imports)

# hal.base, hal.micropython, hal: the hal modules portable tests may import.
PORTABLE_HAL = frozenset(m[:-3].replace("/__init__", "").replace("/", ".")
                         for m in PORTABLE_HAL_MODULES)

TESTS = os.path.join(ROOT, "tests")

# Public TestCase attributes of the pinned runtime's frozen micropython-lib unittest
# (tests/test_micropython.py checks this list against the runtime).
MICROPYTHON_TESTCASE_API = frozenset({
    "addCleanup", "assertAlmostEqual", "assertEqual", "assertFalse", "assertGreaterEqual", "assertIn",
    "assertIs", "assertIsInstance", "assertIsNone", "assertIsNot", "assertIsNotNone",
    "assertLessEqual", "assertNotAlmostEqual", "assertNotEqual", "assertRaises", "assertTrue",
    "assertWarns", "doCleanups", "fail", "skipTest", "subTest",
})
HOOKS = {"setUp", "tearDown", "setUpClass", "tearDownClass"}  # looked up by name on both runtimes
CPYTHON_ONLY_TESTCASE_API = frozenset(
    n for n in dir(unittest.TestCase) if not n.startswith("_")) - MICROPYTHON_TESTCASE_API - HOOKS


def _test_module_names():
    return sorted(name[:-3] for name in os.listdir(TESTS)
                  if name.startswith("test_") and name.endswith(".py"))


def test_every_test_module_is_classified_exactly_once():
    problems = []
    for name in _test_module_names():
        count = portable.PORTABLE.count(name) + portable.CPYTHON_ONLY.count(name)
        if count != 1:
            problems.append("%s is listed %d times in tests/portable.py (PORTABLE or CPYTHON_ONLY "
                            "must hold it exactly once)" % (name, count))
    assert not problems, "\n".join(problems)


def test_every_listed_module_exists():
    missing = sorted(set(portable.PORTABLE + portable.CPYTHON_ONLY) - set(_test_module_names()))
    assert not missing, "listed in tests/portable.py but no tests/<name>.py: %s" % missing


def _relpath(module):
    return module.replace(".", "/") + ".py"


def _tests_module(module, level, name):
    """The tests.* module an import refers to, or None if it is not one."""
    if level:  # relative, from inside tests/: `from . import x` or `from .x import y`
        return "tests." + (module or name)
    if module == "tests":
        return "tests." + name
    return module if module.startswith("tests.") else None


def _import_findings(relpath, tree):
    """(findings, tests.* helpers to check in turn) for one portable module's imports."""
    findings, helpers = [], []
    for line, name, level, names, guarded in iter_imports(tree):
        if guarded or (not level and (name == "unittest" or name in COMMON_SUBSET
                                      or name.split(".")[0] == "agent" or name in PORTABLE_HAL)):
            continue
        for target in [_tests_module(name, level, n) for n in (names or ("",))]:
            if target is None or not os.path.isfile(os.path.join(ROOT, _relpath(target))):
                findings.append("%s:%d: import %s: portable tests may import only unittest, the "
                                "common subset, agent.* and portable tests.* helpers"
                                % (relpath, line, name or "." * level))
            elif target.split(".")[-1].startswith("test_") and target[6:] not in portable.PORTABLE:
                findings.append("%s:%d: imports %s, which is not in PORTABLE" % (relpath, line, target))
            else:
                helpers.append(target)
    return findings, helpers


def _portability_findings(module, seen):
    """Findings for a portable test module or helper, following its imports of tests.* helpers."""
    if module in seen:
        return []
    seen.add(module)
    relpath = _relpath(module)
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as f:
        tree = ast.parse(f.read(), relpath)
    findings, helpers = _import_findings(relpath, tree)
    findings += construct_findings(relpath, tree) + _unittest_findings(relpath, tree)
    for helper in helpers:
        findings += _portability_findings(helper, seen)
    return findings


def _unittest_findings(relpath, tree):
    findings = []

    def add(node, message):
        findings.append("%s:%d: %s" % (relpath, node.lineno, message))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name.startswith("test"):
                add(node, "module-level test function %s: only TestCase methods run on both "
                          "runtimes" % node.name)
            if node.name in ("setUpModule", "tearDownModule"):
                add(node, "%s is never called by micropython-lib unittest" % node.name)
        if isinstance(node, ast.ClassDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr.startswith("skip"):
                    add(node, "class decorator %s: micropython-lib replaces the class with a "
                              "function, dropping its tests; skip in setUp or per test" % target.attr)
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef):
            add(node, "async def: MicroPython's WebAssembly asyncio cannot be driven synchronously")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and isinstance(node.func.value, ast.Name) and node.func.value.id in ("self", "cls")
              and node.func.attr in CPYTHON_ONLY_TESTCASE_API):
            add(node, "TestCase.%s is missing from micropython-lib unittest" % node.func.attr)
    return findings


@pytest.mark.parametrize("name", portable.PORTABLE)
def test_portable_module_stays_portable(name):
    findings = _portability_findings("tests." + name, set())
    assert not findings, "\n".join(findings)


def test_portability_check_catches_violations():
    """The check itself is tested, so it cannot pass everything silently."""
    source = '''
import unittest
import pytest
from tests import mpy
try:
    import tempfile
except ImportError:
    pass

def test_loose():
    pass

@unittest.skip("later")
class Skipped(unittest.TestCase):
    def test_x(self):
        self.assertNotIn(1, [2])
        self.assertEqual(1, 1)

    async def test_async(self):
        pass
'''
    tree = ast.parse(source)
    findings = "\n".join(_unittest_findings("tests/test_x.py", tree))
    for text in ("module-level test function test_loose", "class decorator skip",
                 "TestCase.assertNotIn", "async def"):
        assert text in findings, text
    assert "assertEqual" not in findings
    findings, helpers = _import_findings("tests/test_x.py", tree)
    assert len(findings) == 1 and "import pytest" in findings[0], "tempfile is a guarded fallback"
    assert helpers == ["tests.mpy"]
    assert "import subprocess" in "\n".join(_portability_findings("tests.mpy", set())), \
        "helpers are checked by the same rules"
