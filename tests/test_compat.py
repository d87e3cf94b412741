"""agent.compat gives both runtimes one API: these tests run unchanged on CPython and MicroPython."""

import errno
import io
import os
import unittest

from agent import compat
from tests.support import exists, remove_tree, scratch_dir


class TicksTest(unittest.TestCase):
    def test_add_then_diff_round_trips(self):
        now = compat.ticks_ms()
        self.assertEqual(compat.ticks_diff(compat.ticks_add(now, 1500), now), 1500)
        self.assertEqual(compat.ticks_diff(now, compat.ticks_add(now, 1500)), -1500)

    def test_diff_is_correct_across_the_wrap(self):
        before_wrap = compat.ticks_add(0, -2)  # the largest tick value but one
        after_wrap = compat.ticks_add(before_wrap, 5)
        self.assertTrue(after_wrap < before_wrap, "ticks_add must wrap to small values")
        self.assertEqual(after_wrap, 3)
        self.assertEqual(compat.ticks_diff(after_wrap, before_wrap), 5)
        self.assertEqual(compat.ticks_diff(before_wrap, after_wrap), -5)

    def test_ticks_are_non_negative_and_below_the_period(self):
        period = compat.ticks_add(0, -1) + 1
        now = compat.ticks_ms()
        self.assertTrue(0 <= now < period)


class MonotonicTest(unittest.TestCase):
    def test_monotonic_ms_never_goes_back(self):
        last = compat.monotonic_ms()
        for _ in range(2000):
            now = compat.monotonic_ms()
            self.assertGreaterEqual(now, last)
            last = now

    def test_monotonic_ms_is_an_int(self):
        self.assertIsInstance(compat.monotonic_ms(), int)


class WriteAtomicTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.path = self.dir + "/settings.json"

    def tearDown(self):
        remove_tree(self.dir)

    def _read(self):
        with open(self.path, "rb") as f:
            return f.read()

    def test_creates_the_file(self):
        compat.write_atomic(self.path, b"first")
        self.assertEqual(self._read(), b"first")

    def test_replaces_existing_content_and_leaves_no_temp_file(self):
        compat.write_atomic(self.path, b"a much longer old content")
        compat.write_atomic(self.path, b"new")
        self.assertEqual(self._read(), b"new")
        self.assertFalse(exists(self.path + ".tmp"))
        self.assertEqual(os.listdir(self.dir), ["settings.json"])


class CpuTimesTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.path = self.dir + "/stat"

    def tearDown(self):
        remove_tree(self.dir)

    def stat(self, text):
        with open(self.path, "w") as f:
            f.write(text)
        return compat.cpu_times(self.path)

    def test_busy_is_all_but_idle_and_iowait(self):
        # user nice system idle iowait irq softirq steal guest guest_nice
        self.assertEqual(self.stat("cpu  100 2 30 800 40 5 6 7 9 1\ncpu0 1 2 3 4 5 6 7 8\n"),
                         (150, 990))

    def test_none_where_it_cannot_tell(self):
        self.assertEqual(compat.cpu_times(self.dir + "/none"), None)
        for text in ("", "intr 1 2 3 4 5 6\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5\n"):
            self.assertEqual(self.stat(text), None, text)


class MakedirsTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()

    def tearDown(self):
        remove_tree(self.dir)

    def test_creates_missing_parents_and_accepts_existing_ones(self):
        leaf = self.dir + "/a/b/c"
        compat.makedirs(leaf)
        compat.makedirs(leaf)
        self.assertEqual(os.listdir(self.dir + "/a/b"), ["c"])

    def test_refuses_when_a_file_is_in_the_way(self):
        with open(self.dir + "/file", "wb") as f:
            f.write(b"x")
        with self.assertRaises(OSError):
            compat.makedirs(self.dir + "/file")


class UrandomTest(unittest.TestCase):
    def test_returns_bytes_of_the_requested_length(self):
        for n in (0, 1, 16, 33):
            data = compat.urandom(n)
            self.assertIsInstance(data, bytes)
            self.assertEqual(len(data), n)

    def test_successive_calls_differ(self):
        self.assertNotEqual(compat.urandom(16), compat.urandom(16))


class TimeTest(unittest.TestCase):
    def test_gmtime_uses_the_unix_epoch(self):
        self.assertEqual(tuple(compat.gmtime(0)[:6]), (1970, 1, 1, 0, 0, 0))
        self.assertEqual(tuple(compat.gmtime(946684800)[:6]), (2000, 1, 1, 0, 0, 0))
        # 2024-02-29 12:34:56 UTC, a Thursday (weekday 3), day 60 of a leap year
        self.assertEqual(tuple(compat.gmtime(1709210096)[:8]), (2024, 2, 29, 12, 34, 56, 3, 60))

    def test_utc_seconds_is_a_plausible_now(self):
        now = compat.utc_seconds()
        self.assertIsInstance(now, int)
        self.assertGreaterEqual(compat.gmtime(now)[0], 2024)


class MiscTest(unittest.TestCase):
    def test_print_exception_writes_the_traceback_to_a_file(self):
        buf = io.StringIO()
        try:
            raise ValueError("boom")
        except ValueError as exc:
            compat.print_exception(exc, buf)
        self.assertIn("ValueError: boom", buf.getvalue())

    def test_getenv_falls_back_to_the_default(self):
        self.assertEqual(compat.getenv("ONVIF_AGENT_SURELY_UNSET_VARIABLE", "dflt"), "dflt")

    def test_errno_sets(self):
        self.assertIn(errno.EAGAIN, compat.WOULD_BLOCK)
        self.assertIn(errno.EINPROGRESS, compat.IN_PROGRESS)


class LocalAddressTest(unittest.TestCase):
    def test_the_sockets_own_answer_else_the_default(self):
        class Told:
            def getsockname(self):
                return ("192.0.2.7", 8080)

        class Untold:  # MicroPython's esp32 and rp2 sockets
            pass
        self.assertEqual(compat.local_address(Told(), ("0.0.0.0", 80)), ("192.0.2.7", 8080))
        self.assertEqual(compat.local_address(Untold(), ("0.0.0.0", 80)), ("0.0.0.0", 80))
