"""agent.ringstore under SIGKILL (issue 7): a child appends in a loop and prints "stored <seq>"
once each append() has returned; it is killed at random moments, then the store is reopened.

It must always open, return only intact records, and hold every record reported stored unless
newer records took its space. A kill keeps what reached the kernel (the page cache survives), so
this covers process death; a power cut that loses unsynced writes is the truncation and
corruption at every offset of tests/test_ringstore.py.
"""

import random
import subprocess
import sys
import threading
import time

from agent import log
from agent.ringstore import DATA, HEAD, RingStore
from tests.agentproc import ROOT
from tests.support import Lines

RING = 48 * 1024
CAPACITY = DATA + RING
MAX = 4000
PIECE = 64  # the slow child writes this much at a time, so a kill lands inside a write


def payload_of(seq):
    return (b"%d:" % seq * (MAX // 3 + 1))[:seq * 7919 % (MAX + 1)]


def time_of(seq):
    return 1700000000 + seq


def ring_bytes(first, last):
    """Ring bytes records first..last take."""
    return sum(HEAD + len(payload_of(seq)) for seq in range(first, last + 1))


class SlowFile:
    """A file whose writes reach the kernel a piece at a time, with pauses between."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        for i in range(0, len(data), PIECE):
            self.f.write(data[i:i + PIECE])
            self.f.flush()
            time.sleep(0.0003)

    def __getattr__(self, name):
        return getattr(self.f, name)


def child(path, slow):
    store = RingStore(path, CAPACITY, max_payload=MAX)
    if slow:
        store._file = SlowFile(store._file)
    while True:
        seq = (store.last_seq or 0) + 1
        print("writing", seq, flush=True)
        assert store.append(time_of(seq), payload_of(seq)) == seq
        print("stored", seq, flush=True)


class Child:
    """The child process and the lines it has printed so far (read by a thread)."""

    def __init__(self, path, slow):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.test_ringstore_powerloss", path] + ["slow"] * slow,
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines = []
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.endswith(b"\n"):  # a line cut by the kill reports nothing
                self.lines.append(line.split())

    def seqs(self, word):
        return [int(seq) for said, seq in list(self.lines) if said == word.encode()]

    def wait_stored(self, count, hang_s=60):
        """Until the child has reported `count` appends (a machine's speed must not decide how
        far the test gets); `hang_s` only detects a child that stopped."""
        deadline = time.monotonic() + hang_s
        while len(self.seqs("stored")) < count:
            assert self.proc.poll() is None, "the child died on its own"
            assert time.monotonic() < deadline, "the child stopped appending"
            time.sleep(0.001)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.reader.join()


def check(path, reported):
    """Reopen the store: every record intact and in order, every reported one held unless the
    records after it fill the ring. Returns the last seq held."""
    lines = Lines()
    log.set_stream(lines)
    try:
        store = RingStore(path, CAPACITY, max_payload=MAX)
        records = store.records()
        store.close()
    finally:
        log.set_stream(None)
    assert not [line for line in lines.lines if "unreadable" in line], lines.lines
    if not reported:
        return records[-1][0] if records else 0
    seqs = [seq for seq, _, _ in records]
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    for seq, t, payload in records:
        assert (t, payload) == (time_of(seq), payload_of(seq)), seq
    assert max(reported) <= seqs[-1]
    gone = [seq for seq in reported if seq < seqs[0]]
    if gone:  # overwritten, which only a full ring may do: the records after the newest of
        # them, and the one in flight when the child died, must not fit beside it
        in_flight = seqs[-1] + 1
        assert ring_bytes(max(gone), in_flight) > RING
    return seqs[-1]


def test_killed_at_random_moments(tmp_path):
    rng = random.Random(7)
    path = str(tmp_path / "events.ring")
    reported = []
    for _ in range(14):
        child = Child(path, slow=False)
        # Killed after a random number of appends (sometimes before its first), then at a
        # random moment within the next ones.
        child.wait_stored(rng.randint(0, 45))
        time.sleep(rng.uniform(0, 0.005))
        child.kill()
        reported += child.seqs("stored")
        check(path, reported)
    assert ring_bytes(1, max(reported)) > RING * 10  # wrapped many times


def test_killed_in_the_middle_of_a_write(tmp_path):
    rng = random.Random(11)
    path = str(tmp_path / "events.ring")
    reported = []
    torn = 0
    for _ in range(16):
        child = Child(path, slow=True)
        first = rng.randint(1, 4)
        deadline = time.monotonic() + 20
        while len(child.seqs("writing")) < first and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.02))  # a 2 KB record takes ~15 ms to write
        child.kill()
        reported += child.seqs("stored")
        last = check(path, reported)
        torn += max(child.seqs("writing")) > last
    assert torn >= 3, torn  # most kills landed inside an append, which then left no record
    assert ring_bytes(1, max(reported)) > RING  # some of them while overwriting the oldest


if __name__ == "__main__":
    child(sys.argv[1], slow=sys.argv[2:] == ["slow"])
