"""agent.scopes: fixed scopes from the board, configurable scopes and the discovery mode with
their faults, persistence and change notifications (checklist 7 Table 8, 8.4 #14-#19)."""

import unittest

from agent.errors import ConfigError
from agent.scopes import MAX_SCOPE_LENGTH, MAX_SCOPES, ONVIF, Scopes, encode_segment
from agent.settings import Settings
from agent.soap import SoapFault
from tests.support import remove_tree, scratch_dir

BOARD = {"name": "door-1", "hal": "sim", "model": "Pi 4"}
HW = ONVIF + "hardware/Pi%204"
NAME = ONVIF + "name/door-1"
HALL = ONVIF + "location/hall"
ROOF = ONVIF + "location/roof"


def fault_of(call, *args):
    """(code, [subcode local names]) of the SoapFault `call(*args)` raises."""
    try:
        call(*args)
    except SoapFault as fault:
        return fault.code, [local for _, local in fault.subcodes]
    raise AssertionError("no fault")


def many(n):
    return [ONVIF + "location/room-%d" % i for i in range(n)]


class FixedScopesTest(unittest.TestCase):
    def test_hardware_and_name_from_the_board(self):
        scopes = Scopes(BOARD, Settings())
        self.assertEqual(scopes.fixed(), [HW, NAME])
        self.assertEqual(scopes.all(), [(HW, "Fixed"), (NAME, "Fixed")])
        self.assertEqual(scopes.configurable(), [])  # nothing configured at first start
        self.assertEqual(scopes.uris(), [HW, NAME])

    def test_values_are_percent_encoded_as_one_path_segment(self):
        board = {"name": "Front door #2/a", "hal": "sim",
                 "model": "M\u00fcller 100% <x>?"}
        self.assertEqual(Scopes(board, Settings()).fixed(),
                         [ONVIF + "hardware/M%C3%BCller%20100%25%20%3Cx%3E%3F",
                          ONVIF + "name/Front%20door%20%232%2Fa"])
        # RFC 3986 pchar stays as it is
        self.assertEqual(encode_segment("a-b._~!$&'()*+,;=:@Z9"), "a-b._~!$&'()*+,;=:@Z9")
        self.assertEqual(encode_segment("\t\"\\"), "%09%22%5C")

    def test_model_defaults_to_the_board_name(self):
        scopes = Scopes({"name": "desk top", "hal": "sim"}, Settings())
        self.assertEqual(scopes.fixed(), [ONVIF + "hardware/desk%20top",
                                          ONVIF + "name/desk%20top"])

    def test_extra_fixed_scopes_from_the_board(self):
        board = dict(BOARD, scopes=["urn:example:vendor:door-controller", NAME])
        scopes = Scopes(board, Settings())
        self.assertEqual(scopes.fixed(), [HW, NAME, "urn:example:vendor:door-controller"])

    def test_unusable_board_scopes(self):
        for extra in ("urn:x", ["no scheme"], ["relative/path"], [7], [""],
                      ["urn:" + "x" * MAX_SCOPE_LENGTH]):
            self.assertRaises(ConfigError, Scopes, dict(BOARD, scopes=extra), Settings())


class ConfigurableScopesTest(unittest.TestCase):
    def setUp(self):
        self.settings = Settings()
        self.scopes = Scopes(BOARD, self.settings)
        self.changes = []
        self.scopes.on_change.append(self.changes.append)
        self.version = self.scopes.metadata_version

    def assertUnchanged(self, configurable):
        self.assertEqual(self.scopes.configurable(), configurable)
        self.assertEqual(self.scopes.metadata_version, self.version)
        self.assertEqual(self.changes, [])

    def assertChanged(self, configurable, times=1):
        self.assertEqual(self.scopes.configurable(), configurable)
        self.assertEqual(self.scopes.uris(), [HW, NAME] + configurable)
        self.assertEqual(self.scopes.metadata_version, self.version + times)
        self.assertEqual(self.changes, ["scopes"] * times)
        self.assertEqual(self.settings.get("scopes"), configurable)

    def test_set_replaces_the_configurable_scopes(self):
        self.scopes.set([HALL, ROOF])
        self.assertChanged([HALL, ROOF])
        self.scopes.set([ROOF])
        self.assertChanged([ROOF], 2)
        self.assertEqual(self.scopes.all(), [(HW, "Fixed"), (NAME, "Fixed"),
                                             (ROOF, "Configurable")])

    def test_set_ignores_fixed_scopes_and_repeats(self):
        # Clients write the whole GetScopes list back.
        self.scopes.set([HW, NAME, HALL, HALL, ROOF])
        self.assertChanged([HALL, ROOF])

    def test_no_change_is_not_a_change(self):
        self.scopes.set([HALL])
        self.scopes.set([HALL, NAME])
        self.scopes.add([HALL, HW])
        self.assertChanged([HALL])

    def test_add_appends(self):
        self.scopes.add([HALL])
        self.scopes.add([HALL, ROOF, "urn:x-other"])
        self.assertChanged([HALL, ROOF, "urn:x-other"], 2)

    def test_remove(self):
        self.scopes.set([HALL, ROOF, "urn:x"])
        self.changes[:] = []
        self.assertEqual(self.scopes.remove([ROOF, "urn:x", ROOF]), [ROOF, "urn:x", ROOF])
        self.assertEqual(self.scopes.configurable(), [HALL])
        self.assertEqual(self.changes, ["scopes"])
        self.assertEqual(self.scopes.metadata_version, self.version + 2)

    def test_remove_faults_are_all_or_nothing(self):
        self.scopes.set([HALL, ROOF])
        self.changes[:] = []
        self.version = self.scopes.metadata_version
        self.assertEqual(fault_of(self.scopes.remove, [HALL, NAME]),
                         ("Sender", ["OperationProhibited", "FixedScope"]))
        self.assertEqual(fault_of(self.scopes.remove, [HALL, ONVIF + "location/cellar"]),
                         ("Sender", ["InvalidArgVal", "NoScope"]))
        # a prefix of a present scope is not that scope
        self.assertEqual(fault_of(self.scopes.remove, [ONVIF + "location"]),
                         ("Sender", ["InvalidArgVal", "NoScope"]))
        self.assertUnchanged([HALL, ROOF])

    def test_too_many_scopes_at_the_bound_and_one_past(self):
        self.assertEqual(fault_of(self.scopes.set, many(MAX_SCOPES + 1)),
                         ("Receiver", ["Action", "TooManyScopes"]))
        self.assertUnchanged([])
        self.scopes.set([HW, NAME] + many(MAX_SCOPES))  # fixed scopes do not count
        self.assertChanged(many(MAX_SCOPES))
        self.changes[:] = []
        self.version = self.scopes.metadata_version
        self.assertEqual(fault_of(self.scopes.add, [HALL]),
                         ("Receiver", ["Action", "TooManyScopes"]))
        self.scopes.add(many(2))  # already present: still within the bound
        self.assertUnchanged(many(MAX_SCOPES))

    def test_add_at_the_bound(self):
        self.scopes.set(many(MAX_SCOPES - 2))
        self.assertEqual(fault_of(self.scopes.add, [HALL, ROOF, "urn:x"]),
                         ("Receiver", ["Action", "TooManyScopes"]))
        self.scopes.add([HALL, ROOF])
        self.assertChanged(many(MAX_SCOPES - 2) + [HALL, ROOF], 2)

    def test_smaller_bound(self):
        scopes = Scopes(BOARD, Settings(), max_scopes=1)
        scopes.set([HALL])
        self.assertEqual(fault_of(scopes.add, [ROOF]), ("Receiver", ["Action", "TooManyScopes"]))

    def test_scope_uri_checks(self):
        longest = "urn:" + "x" * (MAX_SCOPE_LENGTH - 4)
        bad = (longest + "x", "", "location/hall", "hall", ":x", "1a:x", "a_b:x", "-a:x",
               ONVIF + "location/two words", ONVIF + "tab\there", ONVIF + "line\nbreak",
               ONVIF + "del\x7f", ONVIF + "nul\x00")
        for uri in bad:
            for call in (self.scopes.set, self.scopes.add):
                # all-or-nothing: the valid scope before it is not kept either
                self.assertEqual(fault_of(call, [HALL, uri]), ("Sender", ["InvalidArgVal"]), uri)
        self.assertUnchanged([])
        good = [longest, "urn:x", "http://example.com/a?b#c", "a+b-c.d:e",
                ONVIF + "location/M\u00fcnchen", ONVIF + "location/a%20b"]
        self.scopes.set(good)
        self.assertChanged(good)


class ModeTest(unittest.TestCase):
    def test_default_set_and_faults(self):
        scopes = Scopes(BOARD, Settings())
        changes = []
        scopes.on_change.append(changes.append)
        version = scopes.metadata_version
        self.assertEqual(scopes.mode, "Discoverable")
        scopes.set_mode("NonDiscoverable")
        self.assertEqual((scopes.mode, changes), ("NonDiscoverable", ["mode"]))
        scopes.set_mode("NonDiscoverable")  # no change: no notification
        for mode in ("", "discoverable", "Off", "Discoverable "):
            self.assertEqual(fault_of(scopes.set_mode, mode), ("Sender", ["InvalidArgVal"]))
        self.assertEqual((scopes.mode, changes), ("NonDiscoverable", ["mode"]))
        scopes.set_mode("Discoverable")
        self.assertEqual((scopes.mode, changes), ("Discoverable", ["mode", "mode"]))
        self.assertEqual(scopes.metadata_version, version)  # the mode is not metadata


class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()

    def tearDown(self):
        remove_tree(self.dir)

    def test_round_trip(self):
        scopes = Scopes(BOARD, Settings(self.dir))
        first = scopes.metadata_version
        scopes.set([HALL, ROOF])
        scopes.remove([HALL])
        scopes.set_mode("NonDiscoverable")
        again = Scopes(BOARD, Settings(self.dir))  # a restart with the same board
        self.assertEqual(again.all(), [(HW, "Fixed"), (NAME, "Fixed"), (ROOF, "Configurable")])
        self.assertEqual(again.mode, "NonDiscoverable")
        self.assertEqual(again.metadata_version, first + 2)

    def test_another_board_changes_the_metadata_version(self):
        first = Scopes(BOARD, Settings(self.dir)).metadata_version
        other = Scopes(dict(BOARD, model="Pi 5"), Settings(self.dir))
        self.assertEqual(other.fixed(), [ONVIF + "hardware/Pi%205", NAME])
        self.assertEqual(other.metadata_version, first + 1)
        self.assertEqual(Scopes(dict(BOARD, model="Pi 5"), Settings(self.dir)).metadata_version,
                         first + 1)

