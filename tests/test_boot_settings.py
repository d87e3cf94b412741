"""agent.boot's settings file and Wi-Fi join (issue 9), against tests/fake_network. Portable: runs
on CPython and inside MicroPython, where a board runs it."""

import json
import unittest

from agent import boot, log
from agent.errors import ConfigError
from tests import fake_network
from tests.support import Lines, remove_tree, scratch_dir


class SettingsFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.addCleanup(remove_tree, self.dir)
        self.path = self.dir + "/settings.json"

    def read(self, text):
        with open(self.path, "w") as f:
            f.write(text)
        return boot.read_settings(self.path)

    def error(self, text):
        try:
            self.read(text)
        except ConfigError as exc:
            return str(exc)
        raise AssertionError("no ConfigError for %s" % text)

    def test_defaults_fill_what_the_file_leaves_out(self):
        settings = self.read(json.dumps({"wifi_ssid": "door-net", "wifi_password": "pw"}))
        self.assertEqual(settings, {"wifi_ssid": "door-net", "wifi_password": "pw",
                                    "board": "board.json", "state_dir": "/state",
                                    "http_port": None, "discovery_port": 3702,
                                    "log_level": "info"})
        self.assertEqual(self.read(json.dumps({"http_port": 8080, "discovery_port": "off"}))[
            "discovery_port"], "off")

    def test_each_problem_names_the_file_and_the_field(self):
        for text, words in (("{", "not valid JSON"), ("[]", "not a JSON object"),
                            ('{"wifi_ssd": "x"}', "unknown field 'wifi_ssd'"),
                            ('{"wifi_password": 5}', "wifi_password must be a string"),
                            ('{"http_port": 70000}', "http_port must be a port number"),
                            ('{"http_port": "off"}', "http_port must be a port number"),
                            ('{"discovery_port": "3702"}', "discovery_port must be a port"),
                            ('{"log_level": "loud"}', "log_level must be one of")):
            message = self.error(text)
            self.assertTrue(self.path in message and words in message, message)

    def test_a_missing_file_is_a_config_error(self):
        try:
            boot.read_settings(self.dir + "/absent.json")
        except ConfigError as exc:
            self.assertTrue("cannot read settings file" in str(exc), str(exc))
        else:
            raise AssertionError("no ConfigError")


class JoinWifiTest(unittest.TestCase):
    def setUp(self):
        self.lines = Lines()
        log.set_stream(self.lines)
        self.addCleanup(log.set_stream, None)
        self.network = fake_network.Network()
        self.wlan = self.network.wlan
        self.wlan.connected = False
        self.sleeps = []

    def join(self, wait_ms=1000):
        return boot.join_wifi(self.network, "door-net", "pw-1", wait_ms=wait_ms,
                              sleep=self.sleeps.append)

    def test_joins_and_says_where(self):
        self.assertTrue(self.join())
        self.assertEqual(self.wlan.joined, [("door-net", "pw-1")])
        self.assertTrue(self.wlan.on)
        self.assertTrue(self.lines.has("Wi-Fi: connected to 'door-net' as 192.168.4.20"),
                        self.lines.lines)

    def test_an_already_connected_station_is_left_alone(self):
        self.wlan.connected = True
        self.assertTrue(self.join())
        self.assertEqual(self.wlan.joined, [])

    def test_an_absent_network_is_a_bounded_wait_and_one_warning(self):
        self.wlan.reachable = False
        self.assertFalse(self.join(wait_ms=2000))
        self.assertEqual(self.sleeps, [0.25] * 8)
        self.assertEqual(len(self.lines.lines), 1)
        self.assertTrue(self.lines.has("Wi-Fi: not connected to 'door-net' after 2 s (status "
                                       "201): check wifi_ssid"), self.lines.lines)

    def test_a_slow_access_point_is_waited_for(self):
        polls = []

        def sleep(seconds):
            polls.append(seconds)
            self.wlan.connected = len(polls) == 3
        self.wlan.reachable = False
        self.assertTrue(boot.join_wifi(self.network, "door-net", "pw-1", sleep=sleep))
        self.assertEqual(len(polls), 3)


class HeapCheckTest(unittest.TestCase):
    def setUp(self):
        self.lines = Lines()
        log.set_stream(self.lines)
        self.addCleanup(log.set_stream, None)

    def test_a_heap_below_the_need_is_a_warning_naming_both(self):
        boot.check_heap(200 * 1024, True)
        self.assertEqual(len(self.lines.lines), 1)
        line = self.lines.lines[0]
        self.assertTrue("WARNING" in line.upper() and "200 KB" in line and
                        "%d KB" % (boot.HEAP_NEEDED // 1024) in line, line)

    def test_enough_heap_or_frozen_code_is_one_info_line(self):
        boot.check_heap(boot.HEAP_NEEDED, True)
        boot.check_heap(150 * 1024, False)  # frozen modules: the code stays in flash
        self.assertEqual(len(self.lines.lines), 2)
        self.assertTrue("heap %d KB" % (boot.HEAP_NEEDED // 1024) in self.lines.lines[0])
        self.assertFalse("WARNING" in "".join(self.lines.lines).upper())

    def test_unknown_heap_says_nothing(self):
        boot.check_heap(None, True)
        self.assertEqual(self.lines.lines, [])


if __name__ == "__main__":
    unittest.main()
