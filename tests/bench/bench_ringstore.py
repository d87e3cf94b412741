"""Benchmark of the notification ring store (issue 7): prints the figures the README's table carries.

* appends per second, each durable (flush + fsync) before the next, of 256-byte payloads (about
  one compact notification) into a 64 KB store that has wrapped, so every append overwrites;
* bytes per record: the 16-byte record header on top of the payload, and what 64 KB hold;
* recovery: opening the full store (one scan of the file), and reading every record back.

On CPython the file is on this machine's disk (fsync included, so the figure is the disk's).
With --micropython-too the same runs inside MicroPython (WebAssembly, MEMFS: no fsync, memory
instead of flash, so it shows the interpreter's cost) and adds the heap recovery allocates.
Run: .venv/bin/python tests/bench/bench_ringstore.py [--appends N] [--micropython-too]
"""

import sys

MICROPYTHON = sys.implementation.name == "micropython"
if not MICROPYTHON:
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from agent import compat  # noqa: E402
from agent.ringstore import HEAD, RingStore  # noqa: E402
from tests.support import remove_tree, scratch_dir  # noqa: E402

CAPACITY = 65536
PAYLOAD = 256


def measure(appends):
    """(appends/s, records held, open ms, records() ms, heap bytes of the open store or None)."""
    folder = scratch_dir()
    path = folder + "/bench.ring"
    try:
        store = RingStore(path, CAPACITY, max_payload=PAYLOAD)
        payload = bytes(range(256)) * (PAYLOAD // 256)
        for i in range(CAPACITY // PAYLOAD):  # wrap once first: every timed append overwrites
            store.append(i, payload)
        start = compat.monotonic_ms()
        for i in range(appends):
            store.append(1700000000 + i, payload)
        rate = appends * 1000 / max(1, compat.monotonic_ms() - start)
        held = store.count
        store.close()
        heap = _allocated()
        start = compat.monotonic_ms()
        store = RingStore(path, CAPACITY, max_payload=PAYLOAD)
        opened = compat.monotonic_ms() - start
        heap = _allocated() - heap if heap is not None else None
        start = compat.monotonic_ms()
        assert len(store.records()) == held
        read = compat.monotonic_ms() - start
        store.close()
        return rate, held, opened, read, heap
    finally:
        remove_tree(folder)


def _allocated():
    """MicroPython's heap in use, with the collector off from the first call on (nothing is freed
    meanwhile, so a difference bounds the peak); None on CPython."""
    if not MICROPYTHON:
        return None
    import gc
    gc.disable()
    return gc.mem_alloc()


def report(where, figures):
    rate, held, opened, read, heap = figures
    print("ring store, %s: %.0f appends/s of %d-byte payloads, each durable" % (where, rate,
                                                                             PAYLOAD))
    print("ring store, %s: recovery of a full %d KB file %d ms, records() of all %d ms"
          % (where, CAPACITY // 1024, opened, read))
    if heap is not None:
        print("ring store, %s: %.1f KB allocated by recovery of the full file (collector off, "
              "garbage included)" % (where, heap / 1024))
    return held


def main():
    args = sys.argv[1:]
    appends = int(args[args.index("--appends") + 1]) if "--appends" in args else 2000
    if MICROPYTHON:
        report("MicroPython (MEMFS, no fsync)", measure(appends))
        return
    held = report("CPython (disk, fsync)", measure(appends))
    print("ring store: %d bytes per record on top of the payload; %d KB hold %d records of %d bytes"
          % (HEAD, CAPACITY // 1024, held, PAYLOAD))
    if "--micropython-too" in args:
        from tests.mpy import run_micropython
        result = run_micropython(["--exec", os.path.abspath(__file__), "--appends", str(appends)])
        sys.stdout.write(result.stdout if result.returncode == 0 else
                         "ring store, MicroPython: not measured: %s\n" % result.stderr.strip())


main()
