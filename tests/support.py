"""Helpers for portable tests: scratch directories, a silent log sink, a seeded generator.

Everything here runs on both runtimes (MicroPython has no tempfile or seeded random streams
that match CPython's).
"""

import os
import unittest

from agent import compat, log

_made = [0]


def scratch_dir():
    """A fresh writable directory on either runtime (MEMFS has /tmp)."""
    try:
        import tempfile
    except ImportError:
        _made[0] += 1
        path = "/tmp/onvif-agent-test-%d-%d" % (compat.ticks_ms(), _made[0])
        os.mkdir(path)
        return path
    return tempfile.mkdtemp()


def remove_tree(path):
    for name in os.listdir(path):
        child = path + "/" + name
        if os.stat(child)[0] & 0x4000:  # S_IFDIR
            remove_tree(child)
        else:
            os.remove(child)
    os.rmdir(path)


def exists(path):
    # MicroPython boards have no os.path.
    try:
        os.stat(path)
    except OSError:
        return False
    return True


class StateDirCase(unittest.TestCase):
    """A test with a fresh state directory `self.dir` and a silent agent.log; each test's
    device is made by the subclass's `start()`."""

    def setUp(self):
        log.set_stream(Quiet())
        self.dir = scratch_dir()
        self.start()

    def tearDown(self):
        remove_tree(self.dir)
        log.set_stream(None)

    def start(self):
        raise NotImplementedError


class Clock:
    """A clock the test sets: `clock.now = ...`; callable like the real ones."""

    def __init__(self, now=1000):
        self.now = now

    def __call__(self):
        return self.now


class Lines:
    """A log stream keeping its lines: `log.set_stream(Lines())`, then look at `lines`."""

    def __init__(self):
        self.lines = []

    def write(self, line):
        self.lines.append(line)

    def has(self, text):
        return any(text in line for line in self.lines)


class Quiet:
    """A log stream that drops everything: `log.set_stream(Quiet())` in setUp, None in tearDown."""

    def write(self, s):
        pass


class Rng:
    """A tiny deterministic generator, identical on both runtimes (fuzz tests)."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.state >> 8) % n

    def bytes(self, n, alphabet):
        return bytes(alphabet[self.below(len(alphabet))] for _ in range(n))


class AllowAll:
    """An access policy that lets every call through, for tests about the operations themselves
    (who may call them is tests/test_auth.py's subject)."""

    def check(self, access, ctx):
        return None

    def challenges(self):
        return []
