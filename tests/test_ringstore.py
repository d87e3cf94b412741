"""agent.ringstore: the notification ring on disk or flash (issue 7, checklist 10.2, 10.12).

Recovery is checked against the file format itself: the layout of a fresh store is computed
here from the module doc (records back to back from ring position 0), so a damaged file's
expected survivors are known without asking the store.
"""

import unittest

from agent import log
from agent.ringstore import DATA, HEAD, RingStore
from tests.support import Lines, Quiet, remove_tree, scratch_dir

RING = 200                  # small enough to damage every byte of it
CAPACITY = DATA + RING
MAX = 40


def payload_of(seq):
    """A payload that differs per seq, 0..MAX bytes, sometimes holding the record magic."""
    length = seq * 13 % (MAX + 1)
    body = bytes((seq * 31 + i * 7) & 0xFF for i in range(length))
    return ((b"\xc0\xfe" if seq % 3 == 0 else b"") + body)[:length]


def size_of(seq):
    return HEAD + len(payload_of(seq))


def time_of(seq):
    return 1700000000 + seq * 10


class RingTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.path = self.dir + "/events.ring"
        self.log = Lines()
        log.set_stream(self.log)
        self.stores = []

    def tearDown(self):
        for store in self.stores:
            store.close()
        log.set_stream(None)
        remove_tree(self.dir)

    def open(self, capacity=CAPACITY, max_payload=MAX, path=None):
        store = RingStore(path or self.path, capacity, max_payload=max_payload)
        self.stores.append(store)
        return store

    def shut(self, store):
        store.close()
        self.stores.remove(store)

    def reopen(self, store, **kw):
        self.shut(store)
        return self.open(**kw)

    def fill(self, store, n):
        for seq in range(1, n + 1):
            self.assertEqual(store.append(time_of(seq), payload_of(seq)), seq)

    def assert_records(self, store, seqs):
        self.assertEqual(store.records(), [(s, time_of(s), payload_of(s)) for s in seqs])

    def file_bytes(self):
        with open(self.path, "rb") as f:
            return f.read()

    def write_file(self, data):
        with open(self.path, "wb") as f:
            f.write(data)


def layout(n):
    """[(seq, file offsets the record occupies)] of records 1..n appended to a fresh store, and
    the live seqs: the newest whose sizes fit in the ring together."""
    placed = []
    pos = 0
    for seq in range(1, n + 1):
        size = size_of(seq)
        offsets = [DATA + (pos + k) % RING for k in range(size)]
        placed.append((seq, offsets))
        pos = (pos + size) % RING
    live = []
    used = 0
    for seq in range(n, 0, -1):
        used += size_of(seq)
        if used > RING:
            break
        live.append(seq)
    live.reverse()
    return placed, live


class AppendTest(RingTestCase):
    def test_empty_store(self):
        store = self.open()
        self.assertEqual((store.first_seq, store.last_seq, store.first_time, store.count,
                          store.overwritten), (None, None, None, 0, 0))
        self.assertEqual(store.records(), [])
        self.assertEqual(store.records(5), [])
        self.assertIsNone(store.seek(0))
        self.assertIsNone(store.seek(2 ** 32, reverse=True))
        self.assertEqual(len(self.file_bytes()), CAPACITY)  # preallocated
        self.assertEqual(self.reopen(store).count, 0)

    def test_append_and_read_back(self):
        store = self.open(capacity=4096)
        self.fill(store, 5)
        self.assertEqual((store.first_seq, store.last_seq, store.first_time, store.count,
                          store.overwritten), (1, 5, time_of(1), 5, 0))
        self.assert_records(store, range(1, 6))
        self.assertEqual([r[0] for r in store.records(3)], [3, 4, 5])
        self.assertEqual([r[0] for r in store.records(0)], [1, 2, 3, 4, 5])
        self.assertEqual(store.records(6), [])
        self.assertEqual(store.append(7, b""), 6)  # empty payload
        self.assertEqual(store.records(6), [(6, 7, b"")])

    def test_scan_reads_only_what_the_reader_takes_either_way(self):
        store = self.open(capacity=4096)
        self.fill(store, 20)
        reads = []
        real = store._record
        store._record = lambda pos, whole: reads.append(pos) or real(pos, whole)
        forward = store.scan(5)
        self.assertEqual([next(forward)[0], next(forward)[0]], [5, 6])
        self.assertEqual(len(reads), 2, "two records read, not the fifteen after them")
        self.assertEqual([r[0] for r in store.scan(5, reverse=True)], [5, 4, 3, 2, 1])
        self.assertEqual([r[0] for r in store.scan(None, reverse=True)][:2], [20, 19])
        self.assertEqual([r[0] for r in store.scan(0, reverse=True)], [])
        self.assertEqual([r[0] for r in store.scan(99, reverse=True)][:1], [20])

    def test_limits(self):
        store = self.open()
        self.assertRaises(ValueError, store.append, 1, bytes(MAX + 1))
        self.assertEqual(store.append(1, bytes(MAX)), 1)
        self.assertRaises(ValueError, store.append, -1, b"x")
        self.assertRaises(ValueError, store.append, 2 ** 32, b"x")
        self.assertEqual(store.count, 1)
        self.assertRaises(ValueError, RingStore, self.dir + "/small", DATA + HEAD + 9,
                          max_payload=10)
        self.assertRaises(ValueError, RingStore, self.dir + "/big", 10 ** 6, max_payload=65536)

    def test_wraps_many_times_counting_what_it_overwrites(self):
        store = self.open()
        wrapped = 0
        for seq in range(1, 301):
            self.assertEqual(store.append(time_of(seq), payload_of(seq)), seq)
            live = layout(seq)[1]
            self.assertEqual((store.first_seq, store.last_seq), (live[0], seq))
            self.assertEqual(store.overwritten, live[0] - 1)
            self.assertEqual(store.count + store.overwritten, seq)
            wrapped = sum(size_of(s) for s in range(1, seq + 1)) // RING
        self.assertTrue(wrapped > 30, wrapped)
        self.assert_records(store, layout(300)[1])

    def test_sequence_and_count_continue_after_reopen(self):
        store = self.open()
        self.fill(store, 40)
        before = (store.first_seq, store.last_seq, store.overwritten, store.records())
        store = self.reopen(store)
        self.assertEqual((store.first_seq, store.last_seq, store.overwritten, store.records()),
                         before)
        self.assertEqual(store.append(time_of(41), payload_of(41)), 41)
        self.assert_records(store, layout(41)[1])
        self.assertEqual(self.log.lines, [])  # a clean file recovers silently

    def test_unwritable_path_raises_oserror(self):
        self.assertRaises(OSError, RingStore, self.dir + "/missing/events.ring")


class ScanTest(RingTestCase):
    def test_a_magic_split_by_the_ring_end_is_found_past_damage(self):
        store = self.open(max_payload=150)
        store.append(1, bytes(150))        # ring 0..165
        store.append(2, b"x" * 17)         # ring 166..198
        store.append(3, b"")               # ring 199 and 0..14: its magic straddles the end
        self.assertEqual(store.first_seq, 2)
        self.shut(store)
        damaged = bytearray(self.file_bytes())
        damaged[DATA + 190] ^= 1           # record 2 lost: the scan must search for record 3
        self.write_file(damaged)
        log.set_stream(Quiet())
        self.assertEqual(self.open(max_payload=150).records(), [(3, 3, b"")])


class SeekTest(RingTestCase):
    def test_forward_and_reverse(self):
        store = self.open(capacity=4096)
        for t in (100, 110, 120, 130):
            store.append(t, b"e")
        self.assertEqual([store.seek(t) for t in (0, 100, 105, 130, 131)], [1, 1, 2, 4, None])
        self.assertEqual([store.seek(t, reverse=True) for t in (99, 100, 105, 130, 999)],
                         [None, 1, 1, 4, 4])

    def test_clock_set_back_is_searched_in_sequence_order(self):
        store = self.open(capacity=4096)
        for t in (100, 200, 150, 300):  # the clock went back between seq 2 and 3
            store.append(t, b"e")
        self.assertEqual(store.seek(150), 2)  # the first in seq order with time >= 150
        self.assertEqual(store.seek(160, reverse=True), 3)  # the last with time <= 160
        self.assertEqual(store.seek(250, reverse=True), 3)


class RecoveryTest(RingTestCase):
    N = 23  # wraps the ring twice; the live records straddle its end

    def setUp(self):
        RingTestCase.setUp(self)
        log.set_stream(Quiet())
        store = self.open()
        self.fill(store, self.N)
        self.shut(store)
        self.original = self.file_bytes()
        self.placed, self.live = layout(self.N)
        straddling = [s for s, offsets in self.placed
                      if s in self.live and offsets[-1] < offsets[0]]
        self.assertEqual(len(straddling), 1)  # the format's wrap case is exercised

    def check_reopens(self, expected):
        """The damaged file opens, returns exactly the `expected` seqs, and takes a new record."""
        store = self.open()
        self.assert_records(store, expected)
        next_seq = (expected[-1] if expected else 0) + 1
        self.assertEqual(store.append(time_of(next_seq), payload_of(next_seq)), next_seq)
        self.assertEqual(store.records()[-1][0], next_seq)
        self.shut(store)

    def test_truncated_at_every_offset(self):
        for cut in range(len(self.original)):
            self.write_file(self.original[:cut])
            intact = [s for s, offsets in self.placed if s in self.live and max(offsets) < cut]
            self.check_reopens(intact)

    def test_a_byte_flipped_at_every_offset(self):
        for at in range(len(self.original)):
            damaged = bytearray(self.original)
            damaged[at] ^= 0xFF
            self.write_file(damaged)
            hit = [s for s, offsets in self.placed if at in offsets]
            self.check_reopens([s for s in self.live if s not in hit])

    def test_a_lost_record_is_logged_and_skipped(self):
        damaged = bytearray(self.original)
        middle = self.live[len(self.live) // 2]
        damaged[dict(self.placed)[middle][HEAD]] ^= 1  # a payload byte
        self.write_file(damaged)
        lines = Lines()
        log.set_stream(lines)
        store = self.open()
        self.assert_records(store, [s for s in self.live if s != middle])
        self.assertEqual(store.overwritten, self.live[0] - 1)
        self.assertTrue("1 records between" in "".join(lines.lines), lines.lines)

    def test_a_record_out_of_order_is_never_returned(self):
        # A copy of a live record in the free space after the newest, as a medium that replays
        # an old sector would leave it: valid, but older than the records it precedes.
        end = sum(size_of(s) for s in range(1, self.N + 1)) % RING
        gap = RING - sum(size_of(s) for s in self.live)
        copied = [s for s in self.live if size_of(s) <= gap][0]
        damaged = bytearray(self.original)
        for k, at in enumerate(dict(self.placed)[copied]):
            damaged[DATA + (end + k) % RING] = self.original[at]
        self.write_file(damaged)
        self.check_reopens(self.live)

    def test_header_copies_repair_each_other(self):
        for first, second in ((0, 16), (16, 0)):
            for at in (first + 5, second + 9):  # the second damage leaves only the repaired copy
                damaged = bytearray(self.file_bytes())
                damaged[at] ^= 0xFF
                self.write_file(damaged)
                store = self.open()
                self.assert_records(store, self.live)
                self.shut(store)

    def test_both_header_copies_lost_starts_empty(self):
        damaged = bytearray(self.original)
        damaged[3] ^= 1
        damaged[16 + 3] ^= 1
        self.write_file(damaged)
        self.check_reopens([])

    def test_damage_after_opening_is_never_returned(self):
        store = self.open()
        victim = self.live[1]
        at = dict(self.placed)[victim][-1]
        # Bit rot on the medium, written through the store's own handle so no read cache hides it.
        store._file.seek(at)
        store._file.write(bytes([self.original[at] ^ 0x10]))
        self.assert_records(store, [s for s in self.live if s != victim])

    def test_a_record_image_inside_a_payload_is_not_a_record(self):
        # Another file's record (own salt), stored as the payload of this file's record 1; then
        # record 1's header is damaged, so the scan searches through its payload.
        other = self.open(path=self.dir + "/other.ring")
        other.append(5, b"forged")
        with open(self.dir + "/other.ring", "rb") as f:
            image = f.read()[DATA:DATA + HEAD + 6]
        store = self.reopen(self.open(), capacity=4096)  # a fresh file: capacity changed
        store.append(1, image)
        store.append(2, b"after")
        damaged = bytearray(self.file_bytes())
        damaged[DATA] ^= 0xFF
        self.write_file(damaged)
        self.assertEqual(self.reopen(store, capacity=4096).records(), [(2, 2, b"after")])

    def test_capacity_change_starts_empty(self):
        lines = Lines()
        log.set_stream(lines)
        store = self.open(capacity=CAPACITY + 100)
        self.assertEqual(store.count, 0)
        self.assertEqual(len(self.file_bytes()), CAPACITY + 100)
        self.assertTrue("capacity changed" in "".join(lines.lines), lines.lines)
        store.append(1, b"x")
        self.assertEqual(self.reopen(store, capacity=CAPACITY + 100).records(), [(1, 1, b"x")])
