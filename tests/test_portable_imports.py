"""Every module in agent/ stays inside the subset CPython and MicroPython share.

mpy-cross checks syntax only and the WebAssembly run only covers what the portable tests execute,
so this AST scan catches the rest statically: imports outside the measured common subset, module
attributes one runtime lacks, and the CPython-only constructs listed in
shared/design/micropython-subset.md. Each finding names file:line. agent/compat.py is exempt from
the attribute rules and may try-import anything (inside try/except ImportError): it is where the
runtimes' differences are feature-detected. agent/tls.py has the same exemption (CPYTHON_SIDE).
"""

import ast
import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPAT = "agent/compat.py"
# Modules that may try-import anything and use CPython-only attributes. agent/tls.py is HTTPS
# (ssl, cryptography, a 0600 key file via os.open): CPython-only by nature (checklist 11: boards
# without ssl report no TLS), imported only when HTTPS is asked for, and each of its imports is
# guarded so that a missing module turns HTTPS off instead of failing; mpy-cross still compiles it.
CPYTHON_SIDE = frozenset({COMPAT, "agent/tls.py"})

# The common subset (shared/design/micropython-subset.md). socket and select are in it only because
# the selector loop and the CLI own the file descriptors; the sans-IO core needs neither.
COMMON_SUBSET = frozenset({
    "sys", "os", "io", "re", "json", "struct", "errno", "time", "binascii", "collections", "array",
    "random", "gc", "math", "heapq", "select", "socket",
})

# Module attributes that exist in MicroPython, measured in the pinned WebAssembly runtime minus what
# only its frozen micropython-lib extensions add (os.path, time.strftime, collections.defaultdict,
# binascii.a2b_hex, ...), which boards lack. Outside compat.py an attribute must also exist in
# CPython (checked live below), so e.g. time.ticks_ms and time.monotonic are both refused.
# socket is absent from the WebAssembly build and is not checked.
# tests/test_micropython.py verifies every name here against the runtime.
MICROPYTHON_API = {
    "array": {"array"},
    "binascii": {"a2b_base64", "b2a_base64", "crc32", "hexlify", "unhexlify"},
    "collections": {"OrderedDict", "deque", "namedtuple"},
    "errno": {"EACCES", "EADDRINUSE", "EAGAIN", "EALREADY", "EBADF", "ECONNABORTED", "ECONNREFUSED",
              "ECONNRESET", "EEXIST", "EHOSTUNREACH", "EINPROGRESS", "EINVAL", "EIO", "EISDIR",
              "ENOBUFS", "ENODEV", "ENOENT", "ENOMEM", "ENOTCONN", "EOPNOTSUPP", "EPERM", "ETIMEDOUT",
              "errorcode"},
    "gc": {"collect", "disable", "enable", "isenabled", "mem_alloc", "mem_free", "threshold"},
    "heapq": {"heapify", "heappop", "heappush"},
    "io": {"BytesIO", "IOBase", "SEEK_CUR", "SEEK_END", "SEEK_SET", "StringIO", "open"},
    "json": {"dump", "dumps", "load", "loads"},
    "math": {"acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "copysign", "cos",
             "cosh", "degrees", "e", "erf", "erfc", "exp", "expm1", "fabs", "factorial", "floor",
             "fmod", "frexp", "gamma", "inf", "isclose", "isfinite", "isinf", "isnan", "ldexp",
             "lgamma", "log", "log10", "log2", "modf", "nan", "pi", "pow", "radians", "sin", "sinh",
             "sqrt", "tan", "tanh", "tau", "trunc"},
    "os": {"chdir", "getcwd", "ilistdir", "listdir", "mkdir", "mount", "remove", "rename", "rmdir",
           "stat", "statvfs", "umount"},
    "random": {"choice", "getrandbits", "randint", "random", "randrange", "seed", "uniform"},
    "re": {"compile", "match", "search", "sub"},
    "select": {"POLLERR", "POLLHUP", "POLLIN", "POLLOUT", "poll", "select"},
    "struct": {"calcsize", "pack", "pack_into", "unpack", "unpack_from"},
    "sys": {"argv", "byteorder", "exit", "implementation", "maxsize", "modules", "path", "platform",
            "print_exception", "stderr", "stdin", "stdout", "version", "version_info"},
    "time": {"gmtime", "localtime", "mktime", "sleep", "sleep_ms", "sleep_us", "ticks_add",
             "ticks_cpu", "ticks_diff", "ticks_ms", "ticks_us", "time", "time_ns"},
}

CPYTHON_ONLY_MODULES = {
    "typing": "typing is missing on MicroPython (annotations need no import)",
    "dataclasses": "dataclasses is missing on MicroPython",
    "__future__": "__future__ is missing on MicroPython",
    "abc": "abc is missing on MicroPython boards (use a plain base class raising NotImplementedError)",
}

# Method names MicroPython's builtin types lack (measured); unambiguous enough to flag by name.
MISSING_METHODS = {
    "tobytes": "memoryview.tobytes() is missing on MicroPython (use bytes(mv))",
    "groups": "match.groups() is missing on MicroPython (use group(i))",
    "groupdict": "match.groupdict() is missing on MicroPython",
    "span": "match.span() is missing on MicroPython",
    "fullmatch": "regex fullmatch() is missing on MicroPython (anchor with $)",
    "finditer": "regex finditer() is missing on MicroPython",
    "bit_length": "int.bit_length() is missing on MicroPython",
    "casefold": "str.casefold() is missing on MicroPython",
    "expandtabs": "str.expandtabs() is missing on MicroPython",
    "isalnum": "str.isalnum() is missing on MicroPython",
    "isascii": "str.isascii() is missing on MicroPython",
    "isdecimal": "str.isdecimal() is missing on MicroPython",
    "isidentifier": "str.isidentifier() is missing on MicroPython",
    "isnumeric": "str.isnumeric() is missing on MicroPython",
    "isprintable": "str.isprintable() is missing on MicroPython",
    "ljust": "str.ljust() is missing on MicroPython (use '%-*s' or format)",
    "rjust": "str.rjust() is missing on MicroPython (use '%*s' or format)",
    "removeprefix": "str.removeprefix() is missing on MicroPython",
    "removesuffix": "str.removesuffix() is missing on MicroPython",
    "maketrans": "str.maketrans() is missing on MicroPython",
    "translate": "str.translate() is missing on MicroPython",
    "zfill": "str.zfill() is missing on MicroPython (use '%0*d')",
}


# hal modules that run on MicroPython boards too (the others drive Linux hardware from CPython),
# and the firmware modules a board provides to one of them.
PORTABLE_HAL_MODULES = ("hal/__init__.py", "hal/base.py", "hal/micropython.py",
                        "hal/net/__init__.py", "hal/net/base.py", "hal/net/sim.py",
                        "hal/net/machine.py")
FIRMWARE_MODULES = {"hal/micropython.py": ("machine",), "hal/net/machine.py": ("network",)}


def runtime_neutral_modules():
    """Every module that must run on both runtimes: agent/ and the portable hal modules."""
    return agent_modules() + list(PORTABLE_HAL_MODULES)


def agent_modules():
    """Paths of every module in agent/, relative to the repository, '/'-separated."""
    found = []
    for folder, dirs, files in os.walk(os.path.join(ROOT, "agent")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                found.append(os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, "/"))
    return found


def parse(relpath):
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as f:
        return ast.parse(f.read(), relpath)


def _catches_import_error(handler):
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id == "ImportError" for t in types)


def iter_imports(tree):
    """Yield (line, module, level, names, guarded).

    guarded: in the body of a try that catches ImportError, or in that handler (the fallback).
    """
    def walk(node, guarded):
        if isinstance(node, ast.Try):
            fallbacks = [h for h in node.handlers if _catches_import_error(h)]
            for child in node.body + fallbacks:
                yield from walk(child, guarded or bool(fallbacks))
            for child in [h for h in node.handlers if h not in fallbacks] + node.orelse + node.finalbody:
                yield from walk(child, guarded)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0, (), guarded
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level, tuple(a.name for a in node.names), guarded
        for child in ast.iter_child_nodes(node):
            yield from walk(child, guarded)
    yield from walk(tree, False)


def import_findings(relpath, tree):
    findings = []
    for line, module, level, _, guarded in iter_imports(tree):
        top = module.split(".")[0]
        if (level or top in ("agent", "hal") or module in COMMON_SUBSET
                or module in FIRMWARE_MODULES.get(relpath, ())
                or (guarded and relpath in CPYTHON_SIDE)):
            continue
        why = CPYTHON_ONLY_MODULES.get(top, "outside the common subset; feature-detect it in "
                                            "agent/compat.py instead")
        findings.append("%s:%d: import %s: %s" % (relpath, line, module, why))
    return findings


def _missing_attr(module, attr):
    """Why `module.attr` cannot be used on both runtimes, or None if it can."""
    api = MICROPYTHON_API.get(module)
    if api is None:
        return None
    if attr not in api:
        return "%s.%s is missing on MicroPython" % (module, attr)
    if not hasattr(importlib.import_module(module), attr):
        return "%s.%s is MicroPython-only; feature-detect it in agent/compat.py" % (module, attr)
    return None


def _feature_detected(tree):
    """Nodes allowed to use a missing name because the code checked for it first.

    Returns ids of nodes in the body of `if hasattr(x, "name"):` (as `(id, "name")`) and in the
    body of a `try` that catches AttributeError (as `(id, None)`, any name).
    """
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            names = [c.args[1].value for c in ast.walk(node.test)
                     if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                     and c.func.id == "hasattr" and len(c.args) == 2
                     and isinstance(c.args[1], ast.Constant)]
            body, keys = node.body, names
        elif isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id == "AttributeError" for h in node.handlers):
            body, keys = node.body, [None]
        else:
            continue
        for statement in body:
            for inner in ast.walk(statement):
                allowed.update((id(inner), key) for key in keys)
    return allowed


def construct_findings(relpath, tree):
    """CPython-only constructs the runtime or boards lack and mpy-cross accepts."""
    findings = []
    detected = _feature_detected(tree)

    def add(node, message, name=None):
        if name is None or ((id(node), name) not in detected and (id(node), None) not in detected):
            findings.append("%s:%d: %s" % (relpath, node.lineno, message))

    check_attrs = relpath not in CPYTHON_SIDE
    aliases = {}  # local name -> module, for `import x` / `import x as y`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                aliases[alias.asname or top] = alias.name if alias.asname else top
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and check_attrs:
            for alias in node.names:
                why = _missing_attr(node.module, alias.name)
                if why:
                    add(node, why, alias.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and check_attrs:
            module = aliases.get(node.value.id)
            why = module and _missing_attr(module, node.attr)
            if why:
                add(node, why, node.attr)
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if "(?P<" in text:
                add(node, "named regex group (?P<...>): MicroPython says 'regex too complex'")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in MISSING_METHODS:
                add(node, MISSING_METHODS[name], name)
            elif name in ("decode", "encode") and (len(node.args) > 1 or
                                                    any(k.arg == "errors" for k in node.keywords)):
                add(node, "%s() with an errors argument is unsupported on MicroPython; catch "
                          "UnicodeError instead" % name)
        elif isinstance(node, ast.Delete):
            # `del x[:]` stays allowed: it is the list-clearing idiom, and lists do support it.
            for target in node.targets:
                if (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice)
                        and (target.slice.lower or target.slice.upper)):
                    add(node, "del x[a:b]: MicroPython bytearrays refuse slice deletion (the scan "
                              "cannot tell a list); keep an offset and compact, or slice-assign")
        elif isinstance(node, (ast.FunctionDef, ast.Name, ast.Attribute)):
            name = getattr(node, "name", None) or getattr(node, "id", None) or getattr(node, "attr", None)
            if name == "__init_subclass__":
                add(node, "__init_subclass__ is silently never called on MicroPython")
    return findings


@pytest.mark.parametrize("relpath", runtime_neutral_modules())
def test_imports_stay_in_the_common_subset(relpath):
    findings = import_findings(relpath, parse(relpath))
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("relpath", runtime_neutral_modules())
def test_no_cpython_only_constructs(relpath):
    findings = construct_findings(relpath, parse(relpath))
    assert not findings, "\n".join(findings)


SAMPLE = '''
import typing
import os.path
import hashlib
from __future__ import annotations
from . import sibling
from agent.errors import AgentError
import time as _time
try:
    import ssl
except ImportError:
    ssl = None
pattern = "(?P<name>x)"
m.groups()
del buf[:n]
del items[:]
mv.tobytes(); s.isascii(); s.translate(t); s.zfill(3); n.bit_length(); s.ljust(4)
b.decode("utf-8", errors="replace"); b.decode("utf-8", "ignore")
class A:
    def __init_subclass__(cls): pass
os.replace(a, b); os.fsync(fd); os.urandom(4); _time.monotonic(); _time.ticks_ms()
from os import urandom
if hasattr(b"", "translate"):
    b.translate(None, b"x")
try:
    now = _time.monotonic()
except AttributeError:
    now = 0
'''


def test_scanner_catches_each_forbidden_construct():
    """The scanner itself is tested, so a broken check cannot pass every module silently."""
    tree = ast.parse(SAMPLE)
    imports = "\n".join(import_findings("agent/x.py", tree))
    for module in ("typing", "os.path", "hashlib", "__future__", "ssl"):
        assert "import %s:" % module in imports, module
    assert "sibling" not in imports and "agent.errors" not in imports
    assert "import ssl" not in "\n".join(import_findings(COMPAT, tree)), "compat may try-import"
    constructs = "\n".join(construct_findings("agent/x.py", tree))
    for text in ("(?P<", "groups()", "del x[a:b]", "tobytes", "isascii", "translate", "zfill",
                 "bit_length", "ljust", "decode() with an errors", "__init_subclass__", "os.replace",
                 "os.fsync", "os.urandom", "time.monotonic is missing", "time.ticks_ms is MicroPython-only"):
        assert text in constructs, text
    assert constructs.count("decode() with an errors") == 2
    assert constructs.count("del x[a:b]") == 1, "del x[:] clears a list and is allowed"
    assert "agent/x.py:22: os.urandom" in constructs, "from-imports are checked too"
    assert "os.urandom" not in "\n".join(construct_findings(COMPAT, tree))
    assert "x.py:24:" not in constructs and "x.py:26:" not in constructs, "feature-detected uses pass"
