"""Persistent settings and board files, on both runtimes."""

import json
import unittest

from agent import log
from agent.board import load_board
from agent.errors import ConfigError
from agent.settings import FILENAME, Settings
from tests.support import Quiet, exists, remove_tree, scratch_dir


class SettingsTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.path = self.dir + "/" + FILENAME

    def tearDown(self):
        remove_tree(self.dir)

    def test_endpoint_uuid_is_made_once_and_kept(self):
        first = Settings(self.dir).get("endpoint_uuid")
        self.assertEqual(len(first), 36)
        self.assertEqual(Settings(self.dir).get("endpoint_uuid"), first)

    def test_update_is_persisted_without_leftovers(self):
        Settings(self.dir).update(timezone="CET-1")
        self.assertEqual(Settings(self.dir).get("timezone"), "CET-1")
        self.assertFalse(exists(self.path + ".tmp"))

    def test_a_corrupt_file_is_moved_aside_and_the_device_still_starts(self):
        for junk in (b"{not json", b"[1, 2]", b"\xff\xfe"):
            with open(self.path, "wb") as f:
                f.write(junk)
            log.set_stream(Quiet())
            try:
                settings = Settings(self.dir)
            finally:
                log.set_stream(None)
            self.assertTrue(settings.get("endpoint_uuid"))
            with open(self.path + ".corrupt", "rb") as f:
                self.assertEqual(f.read(), junk)

    def test_in_memory_settings_touch_no_file(self):
        self.assertTrue(Settings().get("endpoint_uuid"))
        self.assertFalse(exists(self.path))


class BoardTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()

    def tearDown(self):
        remove_tree(self.dir)

    def write(self, name, content):
        path = self.dir + "/" + name
        with open(path, "w") as f:
            f.write(content)
        return path

    def test_board_by_path(self):
        path = self.write("b.json", json.dumps({"name": "door", "hal": "sim", "model": "X"}))
        board = load_board(path)
        self.assertEqual((board["name"], board["hal"], board["path"]), ("door", "sim", path))

    def test_problems_are_config_errors_naming_the_file(self):
        cases = (("missing.json", None), ("bad.json", "{"), ("list.json", "[]"),
                 ("nohal.json", json.dumps({"name": "x"})),
                 ("emptyname.json", json.dumps({"name": "", "hal": "sim"})))
        for name, content in cases:
            path = self.dir + "/" + name if content is None else self.write(name, content)
            with self.assertRaises(ConfigError) as ctx:
                load_board(path)
            self.assertTrue(name in str(ctx.exception), str(ctx.exception))

    def test_unknown_board_name(self):
        with self.assertRaises(ConfigError):
            load_board("no-such-board")


class SettingsWriteFailureTest(unittest.TestCase):
    def test_a_failed_write_changes_nothing(self):
        directory = scratch_dir()
        try:
            settings = Settings(directory)
            before = dict(settings.values)
            remove_tree(directory)  # the state directory vanished: the write must fail
            with self.assertRaises(OSError):
                settings.update(timezone="CET-1")
            self.assertEqual(settings.values, before)
        finally:
            if exists(directory):
                remove_tree(directory)
