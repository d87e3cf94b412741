"""The MicroPython side of run.mjs: runs the portable suite or one script, returns an exit code.

It drives micropython-lib's frozen `unittest` (TestSuite/TestResult) class by class instead of
`unittest.main`, which cannot take dotted module names and would let one crashing class end the
run. Output is what tests/test_micropython.py parses: a closing "N passed, N failed" line and an
`MPY-RESULT {json}` line.
"""

import io
import sys
import unittest

RULE = "-" * 70


def _traceback(exc):
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    return buf.getvalue()


def _label(test):
    """Name a failed test as CPython does: `test_x (module.Class)`."""
    name, where = test[0], test[1]
    if isinstance(where, type):
        where = "%s.%s" % (where.__module__, where.__qualname__)
    else:  # subTest failures carry "(suite.Class)" plus "[msg]"/"(params)" parts
        where = where.strip("()")
    return "%s (%s)%s" % (name, where, "".join(test[2:]))


def _test_classes(module):
    # Every TestCase subclass in the module's namespace, as CPython's loader finds them.
    for attr in sorted(dir(module)):
        obj = getattr(module, attr)
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj is not unittest.TestCase:
            yield obj


def qualify(names):
    """Bare names, as tests/portable.py lists them, are modules of the tests package."""
    return [name if "." in name else "tests." + name for name in names]


def run_suite(names):
    """Run every TestCase of the named modules; print failures and the summary; return 0 or 1."""
    result = unittest.TestResult()
    crashes = []  # (label, traceback) of imports and classes that died outside a test
    for name in names:
        print("== %s" % name)
        try:
            __import__(name)
            module = sys.modules[name]
        except BaseException as exc:  # a SyntaxError or SystemExit must be reported too
            print("IMPORT FAILED")
            crashes.append(("import %s" % name, _traceback(exc)))
            continue
        for cls in _test_classes(module):
            suite = unittest.TestSuite(name)
            suite.addTest(cls)
            try:
                suite.run(result)
            except BaseException as exc:
                # micropython-lib calls setUp/setUpClass outside its per-test try, so an exception
                # there escapes and the rest of the class never runs.
                print(" CRASHED")
                crashes.append(("class %s.%s (setUp/setUpClass/tearDownClass)" % (name, cls.__name__),
                                _traceback(exc)))

    for kind, entries in (("ERROR", result.errors), ("FAIL", result.failures)):
        for test, trace in entries:
            print("=" * 70)
            print("%s: %s" % (kind, _label(test)))
            print(RULE)
            print(trace)
    for label, trace in crashes:
        print("=" * 70)
        print("ERROR: %s" % label)
        print(RULE)
        print(trace)

    errors = result.errorsNum + len(crashes)
    # Count tests, not failure records: each failing subTest adds a record.
    failed_tests = len(set(_label(t[:2]) for t, _ in result.errors + result.failures))
    failed = failed_tests + len(crashes)
    passed = result.testsRun - failed_tests - result.skippedNum
    print(RULE)
    line = "%d passed, %d failed" % (passed, failed)
    if result.skippedNum:
        line += ", %d skipped" % result.skippedNum
    print(line)
    # Formatted by hand: MicroPython's dicts do not keep insertion order.
    print('MPY-RESULT {"run": %d, "failures": %d, "errors": %d, "skipped": %d}'
          % (result.testsRun, result.failuresNum, errors, result.skippedNum))
    return 0 if failed == 0 else 1


# The last script's globals, kept after it ends: what it built stays reachable for run.mjs
# --settled-heap to measure.
script_globals = {}


def run_file(path, argv):
    """Run a script as __main__ (sys.argv = [path] + argv); return its exit code."""
    sys.argv[:] = [path] + argv
    script_globals.clear()
    script_globals.update({"__name__": "__main__", "__file__": path})
    try:
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        exec(code, script_globals)
    except SystemExit as exc:
        status = exc.args[0] if exc.args else None
        if status is None or isinstance(status, int):
            return status or 0
        print(status)
        return 1
    except BaseException as exc:
        sys.print_exception(exc)
        return 1
    return 0
