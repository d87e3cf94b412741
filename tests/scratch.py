"""Scratch directories for portable tests (MicroPython has no tempfile; its MEMFS has /tmp)."""

import os

from agent import compat

_made = [0]


def scratch_dir():
    """A fresh writable directory on either runtime."""
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
