"""System maintenance in memory (checklist 8.4 #2, #5, #8, #13): SetSystemFactoryDefault Hard
and Soft keep exactly the right settings and drop users and the event ring, SystemReboot,
GetSystemUris and its HTTP resources, the backup archive and StartSystemRestore (a round trip
brings the configuration back; every kind of bad archive is HTTP 415 and leaves every state
file byte-identical), ShutdownInitiated, and the restart coming from a loop timer after the
response, never before."""

import json
import os
import unittest

from agent import backup, log, maintenance
from agent.app import build_app
from agent.ipfilter import IPFilter
from agent.settings import Settings
from agent.systemlog import ACCESS
from agent.users import Users
from tests.iofakes import BOARD, EPOCH, advance, make_device
from tests.soapclient import TDS, TT, InMemoryClient
from tests.support import AllowAll, StateDirCase, Quiet, exists, remove_tree, scratch_dir
from tests.test_auth import Caller

DEVICE = "/onvif/device_service"
SHUTDOWN = "Device/OperationMode/ShutdownInitiated"
TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
LAB = "onvif://www.onvif.org/location/lab"
STATE_FILES = ("settings.json", "users.json", "events.ring", "maintenance.pending")


def factory_default(kind):
    return ("<tds:SetSystemFactoryDefault><tds:FactoryDefault>%s</tds:FactoryDefault>"
            "</tds:SetSystemFactoryDefault>" % kind)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class FakeNetwork:
    def __init__(self):
        self.resets = []

    def factory_reset(self, hard):
        self.resets.append(hard)


class MaintenanceCase(StateDirCase):
    def tearDown(self):
        self.device.io.close()
        self.loop.close()
        super().tearDown()

    def start(self):
        self.device, _, self.loop, self.clock, self.messages = make_device(
            BOARD, Settings(self.dir))
        self.device.maintenance.clock = self.clock
        self.device.users = Users(self.dir)
        self.restarts = []
        self.device.restart = self.restarts.append
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def configure(self):
        """Settings of every kind: configuration, network (net_*), identity, history."""
        device = self.device
        device.users.create([("admin", "Adm1n-secret-pw", "Administrator"),
                             ("op", "0perator-pw", "Operator")])
        device.time.set("Manual", True, TZ, EPOCH + 3600)
        device.scopes.set([LAB])
        device.scopes.set_mode("NonDiscoverable")
        device.io.set_relay_settings("R1", "Monostable", 5000, "closed")
        device.io.set_input_idle_states([("IN1", "closed")])
        IPFilter(device.settings).set("Allow", [("192.168.1.0", "24")], [("2001:db8::", "32")])
        device.settings.update(ntp_servers=["pool.ntp.org"], net_protocols={"HTTP": [8080]},
                               net_hostname="door-1", discovery_instance=7)
        with open(self.dir + "/events.ring", "wb") as f:
            f.write(b"ring")

    def call(self, body):
        response = self.client.call(body, path=DEVICE)
        self.assertEqual(response.status, 200, response.body)
        return response.body_child

    def get(self, path, method="GET"):
        return self.client.post(path, None, content_type=None, method=method)

    def upload(self, uri, data):
        path = uri[len("http://device.test:8080"):]
        return self.client.post(path, data, content_type="application/octet-stream")

    def start_restore(self):
        return self.call("<tds:StartSystemRestore/>").findtext(TDS, "UploadUri")

    def settled(self):
        """Let the restart timer run; the next start's recovery completes the journal."""
        advance(self.loop, self.clock, maintenance.RESTART_DELAY_MS)
        self.network = FakeNetwork()
        return maintenance.recover(self.dir, self.network)

    def saved(self):
        return Settings(self.dir).values


class FactoryDefaultTest(MaintenanceCase):
    def test_hard_keeps_only_identity_and_writes_last_reset(self):
        self.configure()
        uuid = self.device.settings.get("endpoint_uuid")
        self.call(factory_default("Hard"))
        self.settled()
        self.assertEqual(self.saved(), {"endpoint_uuid": uuid, "discovery_instance": 7,
                                        "last_reset": self.device.time()})
        self.assertEqual(self.network.resets, [True])

    def test_soft_keeps_network_settings_too(self):
        self.configure()
        self.call(factory_default("Soft"))
        self.settled()
        saved = self.saved()
        self.assertEqual(sorted(saved), ["discovery_instance", "endpoint_uuid", "last_reset",
                                         "net_hostname", "net_protocols"])
        self.assertEqual(saved["net_protocols"], {"HTTP": [8080]})
        self.assertEqual(self.network.resets, [False])

    def test_users_and_event_ring_go_and_a_first_start_admin_follows(self):
        self.configure()
        self.call(factory_default("Hard"))
        self.assertTrue(exists(self.dir + "/users.json"), "nothing changes before the restart")
        self.settled()
        for name in ("users.json", "events.ring", "maintenance.pending"):
            self.assertFalse(exists(self.dir + "/" + name), name)
        users = Users(self.dir)
        self.assertEqual(users.list(), [])
        self.assertTrue(users.ensure_admin())  # the CLI's first-start path makes a new admin
        self.assertEqual(users.list(), [("admin", "Administrator")])

    def test_answers_first_then_shutdown_initiated_then_restart(self):
        self.call(factory_default("Soft"))
        self.assertEqual(self.restarts, [])
        advance(self.loop, self.clock, maintenance.RESTART_DELAY_MS - 5)
        self.assertEqual(self.restarts, [])
        self.assertEqual([m for m in self.messages if m.topic == SHUTDOWN], [])
        advance(self.loop, self.clock, 5)
        self.assertEqual(self.restarts, ["factory"])
        shutdown = [m for m in self.messages if m.topic == SHUTDOWN]
        self.assertEqual(len(shutdown), 1)
        self.assertEqual((shutdown[0].operation, shutdown[0].data), (None, ()))

    def test_unknown_kind_is_invalid_arg_val_and_stages_nothing(self):
        response = self.client.call(factory_default("Medium"), path=DEVICE)
        self.assertEqual(response.fault(), ("Sender", ["InvalidArgVal"]))
        self.assertFalse(exists(self.dir + "/maintenance.pending"))
        advance(self.loop, self.clock, 2 * maintenance.RESTART_DELAY_MS)
        self.assertEqual(self.restarts, [])

    def test_without_a_state_directory_the_device_says_it_failed(self):
        self.device.settings.state_dir = None
        response = self.client.call(factory_default("Hard"), path=DEVICE)
        self.assertEqual(response.fault(), ("Receiver", ["Action"]))
        advance(self.loop, self.clock, 2 * maintenance.RESTART_DELAY_MS)
        self.assertEqual(self.restarts, [])


class RebootTest(MaintenanceCase):
    def test_reboot_answers_a_message_then_restarts_from_the_timer(self):
        self.configure()
        before = [read(self.dir + "/" + name) for name in STATE_FILES]
        message = self.call("<tds:SystemReboot/>").findtext(TDS, "Message")
        self.assertTrue(message)
        self.assertEqual(self.restarts, [])
        self.assertIsNone(self.settled(), "a reboot stages nothing")
        self.assertEqual(self.restarts, ["reboot"])
        self.assertEqual(len([m for m in self.messages if m.topic == SHUTDOWN]), 1)
        self.assertEqual([read(self.dir + "/" + name) for name in STATE_FILES], before)

    def test_a_second_request_does_not_restart_twice(self):
        self.call("<tds:SystemReboot/>")
        self.call(factory_default("Soft"))
        advance(self.loop, self.clock, 3 * maintenance.RESTART_DELAY_MS)
        self.assertEqual(self.restarts, ["reboot"])


class SystemUrisTest(MaintenanceCase):
    def test_uris_name_the_host_the_client_used(self):
        response = self.call("<tds:GetSystemUris/>")
        logs = response.find(TDS, "SystemLogUris").findall(TT, "SystemLog")
        self.assertEqual([(e.findtext(TT, "Type"), e.findtext(TT, "Uri")) for e in logs], [
            ("System", "http://device.test:8080/onvif/system/log/system"),
            ("Access", "http://device.test:8080/onvif/system/log/access")])
        self.assertEqual(response.findtext(TDS, "SupportInfoUri"),
                         "http://device.test:8080/onvif/system/support")
        self.assertEqual(response.findtext(TDS, "SystemBackupUri"),
                         "http://device.test:8080/onvif/system/backup")

    def test_capabilities_say_http_backup_logs_and_support_but_no_firmware(self):
        caps = self.call("<tds:GetServiceCapabilities/>").find(TDS, "Capabilities")
        system = caps.find(TDS, "System")
        for name in ("HttpSystemBackup", "HttpSystemLogging", "HttpSupportInformation"):
            self.assertEqual(system.get(name), "true", name)
        for name in ("SystemBackup", "FirmwareUpgrade", "HttpFirmwareUpgrade"):
            self.assertEqual(system.get(name), "false", name)
        legacy = self.call("<tds:GetCapabilities/>").find(TDS, "Capabilities")
        system = legacy.find(TT, "Device").find(TT, "System")
        self.assertEqual(system.findtext(TT, "SystemBackup"), "false")  # MTOM: not offered
        self.assertEqual([(e.name, e.text) for e in system.find(TT, "Extension").children], [
            ("HttpFirmwareUpgrade", "false"), ("HttpSystemBackup", "true"),
            ("HttpSystemLogging", "true"), ("HttpSupportInformation", "true")])

    def test_log_and_support_resources_are_text(self):
        log.info("a line for the system log")
        for path in ("/onvif/system/log/system", "/onvif/system/log/access",
                     "/onvif/system/support"):
            response = self.get(path)
            self.assertEqual(response.status, 200, path)
            self.assertTrue(response.headers["content-type"].startswith("text/plain"))
        self.assertIn(b"a line for the system log", self.get("/onvif/system/log/system").body)
        self.assertIn(b"board: door-1", self.get("/onvif/system/support").body)

    def test_wrong_method_is_405(self):
        response = self.upload("http://device.test:8080/onvif/system/backup", b"x")
        self.assertEqual((response.status, response.headers.get("allow")), (405, "GET"))

    def test_firmware_and_mtom_backup_are_not_supported(self):
        for body in ("<tds:StartFirmwareUpgrade/>", "<tds:GetSystemBackup/>"):
            response = self.client.call(body, path=DEVICE)
            self.assertEqual(response.fault(), ("Receiver", ["ActionNotSupported"]), body)


class BackupRestoreTest(MaintenanceCase):
    def backup(self):
        response = self.get("/onvif/system/backup")
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.headers["content-type"], "application/octet-stream")
        return response.body

    def test_backup_publishes_backup_last(self):
        self.backup()
        last = [m for m in self.messages if m.topic == "Monitoring/Backup/Last"]
        self.assertEqual(len(last), 1)
        self.assertEqual(last[0].data[0][0], "Status")

    def test_archive_holds_configuration_not_users_identity_or_network(self):
        self.configure()
        document = json.loads(self.backup())
        self.assertEqual((document["format"], document["version"], document["board"]),
                         ("onvif-agent-backup", 1, "door-1"))
        self.assertEqual(sorted(document["settings"]), [
            "clock_mode", "clock_offset", "daylight_savings", "deviceio", "discovery_mode",
            "ip_filter", "ntp_servers", "scopes", "timezone"])
        self.assertFalse(b"Adm1n-secret-pw" in self.backup())

    def test_round_trip_restores_the_same_configuration(self):
        self.configure()
        archive = self.backup()
        configured = self.saved()
        users = read(self.dir + "/users.json")
        # Everything changes afterwards ...
        self.device.time.set("Manual", False, "UTC0", EPOCH)
        self.device.scopes.set(["onvif://www.onvif.org/location/elsewhere"])
        self.device.io.set_relay_settings("R1", "Bistable", 1000, "open")
        IPFilter(self.device.settings).set("Deny", [], [])
        self.device.settings.update(ntp_servers=[], net_hostname="changed")
        # ... and the restore brings the configuration back; identity, network and users stay.
        response = self.upload(self.start_restore(), archive)
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(self.restarts, [])
        self.settled()
        self.assertEqual(self.restarts, ["restore"])
        saved = self.saved()
        for key in backup.CONFIG:
            self.assertEqual(saved.get(key), configured.get(key), key)
        self.assertEqual(saved["net_hostname"], "changed")
        self.assertEqual(saved["endpoint_uuid"], configured["endpoint_uuid"])
        self.assertEqual(read(self.dir + "/users.json"), users)
        self.assertEqual(read(self.dir + "/events.ring"), b"ring")

    def test_keys_missing_from_the_archive_return_to_their_defaults(self):
        archive = self.backup()  # a fresh device: no configuration key set
        self.configure()
        self.assertEqual(self.upload(self.start_restore(), archive).status, 200)
        self.settled()
        saved = self.saved()
        self.assertEqual([key for key in backup.CONFIG if key in saved], [])

    def test_upload_uri_is_one_time_and_expires(self):
        archive = self.backup()
        uri = self.start_restore()
        self.assertEqual(self.upload(uri, archive).status, 200)
        self.assertEqual(self.upload(uri, archive).status, 404)
        late = self.start_restore()
        self.clock.now += maintenance.UPLOAD_LIFETIME_MS
        self.assertEqual(self.upload(late, archive).status, 404)
        self.assertEqual(self.upload(uri[:-4] + "0000", archive).status, 404)
        self.assertEqual(self.get(uri[len("http://device.test:8080"):]).status, 405)

    def test_an_archive_posted_to_a_soap_endpoint_is_415(self):
        response = self.upload("http://device.test:8080" + DEVICE, self.backup())
        self.assertEqual(response.status, 415)
        self.assertFalse(exists(self.dir + "/maintenance.pending"))

    def test_outstanding_upload_uris_are_bounded(self):
        uris = [self.start_restore() for _ in range(maintenance.MAX_UPLOADS + 1)]
        self.assertEqual(len(self.device.maintenance.uploads), maintenance.MAX_UPLOADS)
        self.assertEqual(self.upload(uris[0], self.backup()).status, 404)
        self.assertEqual(self.upload(uris[-1], self.backup()).status, 200)


def resealed(archive, change):
    """The archive after `change(document)`, with a checksum that matches again."""
    document = json.loads(archive)
    del document["sha256"]
    change(document)
    return backup.seal(document)


def setting(key, value):
    def change(document):
        document["settings"][key] = value
    return change


def settings(**values):
    def change(document):
        document["settings"].update(values)
    return change


def field(key, value):
    def change(document):
        document[key] = value
    return change


def relay(**saved):
    values = {"mode": "Monostable", "delay_ms": 5000, "idle_state": "open"}
    values.update(saved)
    return setting("deviceio", {"relays": {"R1": values}})


BAD = (
    ("not JSON", lambda a: b"PK\x03\x04 a zip file"),
    ("truncated", lambda a: a[:len(a) // 2]),
    ("a JSON list", lambda a: b"[1, 2]"),
    ("empty", lambda a: b""),
    ("edited without the checksum", lambda a: a.replace(b"NonDiscoverable", b"Discoverable")),
    ("no checksum", lambda a: resealed(a, lambda d: None).replace(b'"sha256"', b'"sha"')),
    ("other format", lambda a: resealed(a, field("format", "tar"))),
    ("newer version", lambda a: resealed(a, field("version", 2))),
    ("other board", lambda a: resealed(a, field("board", "pi-door"))),
    ("settings not an object", lambda a: resealed(a, field("settings", []))),
    ("unknown key", lambda a: resealed(a, setting("users", []))),
    ("identity key", lambda a: resealed(a, setting("endpoint_uuid", "x"))),
    ("bad time zone", lambda a: resealed(a, setting("timezone", "Europe/Berlin"))),
    ("bad clock mode", lambda a: resealed(a, setting("clock_mode", "GPS"))),
    ("offset not an int", lambda a: resealed(a, setting("clock_offset", "3600"))),
    ("DST not a boolean", lambda a: resealed(a, setting("daylight_savings", 1))),
    ("NTP without servers", lambda a: resealed(a, settings(clock_mode="NTP", ntp_servers=[]))),
    ("bad NTP server", lambda a: resealed(a, setting("ntp_servers", ["a b"]))),
    ("bad scope", lambda a: resealed(a, setting("scopes", ["no scheme"]))),
    ("duplicate scope", lambda a: resealed(a, setting("scopes", [LAB, LAB]))),
    ("bad discovery mode", lambda a: resealed(a, setting("discovery_mode", "Hidden"))),
    ("bad IP filter", lambda a: resealed(a, setting("ip_filter", {
        "type": "Allow", "ipv4": [["300.1.1.1", 24]], "ipv6": []}))),
    ("IP filter without type", lambda a: resealed(a, setting("ip_filter", {"ipv4": []}))),
    ("unknown relay", lambda a: resealed(a, setting("deviceio", {"relays": {"R9": {}}}))),
    ("relay delay out of range", lambda a: resealed(a, relay(delay_ms=3600000))),
    ("relay mode", lambda a: resealed(a, relay(mode="Toggle"))),
    ("relay extra field", lambda a: resealed(a, relay(colour="red"))),
    ("input idle state", lambda a: resealed(a, setting("deviceio", {
        "inputs": {"IN1": {"idle_state": "ajar"}}}))),
    ("serial options", lambda a: resealed(a, setting("deviceio", {
        "serial": {"RS485": {"baud_rate": 7}}}))),
    ("serial field", lambda a: resealed(a, setting("deviceio", {
        "serial": {"RS485": {"speed": 9600}}}))),
)


class BadArchiveTest(MaintenanceCase):
    def test_every_bad_archive_is_415_and_changes_nothing(self):
        self.configure()
        good = self.get("/onvif/system/backup").body
        before = [read(self.dir + "/" + name) for name in STATE_FILES]
        for name, make in BAD:
            response = self.upload(self.start_restore(), make(good))
            self.assertEqual(response.status, 415, name)
            self.assertTrue(response.body.startswith(b"Not a usable backup archive: "), name)
            self.assertEqual([read(self.dir + "/" + n) for n in STATE_FILES], before, name)
        advance(self.loop, self.clock, 2 * maintenance.RESTART_DELAY_MS)
        self.assertEqual(self.restarts, [])
        # The good archive itself passes: each failure above is its one change.
        self.assertEqual(self.upload(self.start_restore(), good).status, 200)

    def test_an_oversized_upload_stops_at_the_http_body_limit(self):
        before = [read(self.dir + "/" + name) for name in STATE_FILES]
        response = self.upload(self.start_restore(), b" " * (64 * 1024 + 1))
        self.assertEqual(response.status, 413)
        self.assertEqual([read(self.dir + "/" + n) for n in STATE_FILES], before)

    def test_a_refused_archive_is_logged(self):
        from tests.support import Lines
        lines = Lines()
        log.set_stream(lines)
        self.upload(self.start_restore(), b"junk")
        self.assertTrue(lines.has("system restore refused: not a JSON document"))


class RecoveryTest(unittest.TestCase):
    """agent.maintenance's journal on its own: each step idempotent, any prefix recoverable
    (the SIGKILL test, tests/test_maintenance_powerloss.py, does this with a real kill)."""

    def setUp(self):
        self.dir = scratch_dir()

    def tearDown(self):
        remove_tree(self.dir)

    def test_every_prefix_of_the_steps_recovers_to_the_same_state(self):
        action = maintenance.factory_action(True, 1800000000)
        final = None
        for done in range(len(maintenance.steps(self.dir, action)) + 1):
            with open(self.dir + "/settings.json", "w") as f:
                f.write('{"endpoint_uuid": "u", "scopes": ["x:y"], "net_a": 1}')
            for name in ("users.json", "events.ring"):
                with open(self.dir + "/" + name, "w") as f:
                    f.write("old")
            maintenance.stage(self.dir, action)
            for step in maintenance.steps(self.dir, action)[:done]:
                step()
            maintenance.recover(self.dir)
            state = sorted((name, json.loads(read(self.dir + "/" + name)))
                           for name in os.listdir(self.dir))
            self.assertEqual(state, final or state, done)
            final = state
        self.assertEqual(final, [("settings.json",
                                  {"endpoint_uuid": "u", "last_reset": 1800000000})])

    def test_nothing_staged_is_nothing_done(self):
        self.assertIsNone(maintenance.recover(self.dir))
        self.assertEqual(os.listdir(self.dir), [])


class ResourceAccessTest(unittest.TestCase):
    """The HTTP resources pass the same policy as SOAP (checklist 5.4, Table 7): Digest, and
    the access class of the operation each stands for."""

    def setUp(self):
        log.set_stream(Quiet())
        self.caller = Caller()

    def tearDown(self):
        log.set_stream(None)

    def request(self, path, user=None, method="GET", body=None):
        client = self.caller.client
        content_type = "application/octet-stream" if method == "POST" else None
        first = client.post(path, body, content_type=content_type, method=method)
        if user is None:
            return first
        self.assertEqual(first.status, 401)
        authorization = self.caller.digest_header(self.caller.md5_challenge(first), user, path,
                                                  method=method)
        return client.post(path, body, content_type=content_type, method=method,
                           headers=[("Authorization", authorization)])

    def test_anonymous_callers_are_challenged(self):
        for path in ("/onvif/system/backup", "/onvif/system/log/access",
                     "/onvif/system/support"):
            response = self.request(path)
            self.assertEqual(response.status, 401, path)
            self.assertTrue(response.header_list("www-authenticate"), path)

    def test_only_administrators_read_the_backup_and_logs(self):
        for path in ("/onvif/system/backup", "/onvif/system/log/system"):
            self.assertEqual(self.request(path, "operator").status, 403, path)
            self.assertEqual(self.request(path, "viewer").status, 403, path)
            self.assertEqual(self.request(path, "admin").status, 200, path)

    def test_the_access_log_names_user_and_resource(self):
        ACCESS.clear()
        self.request("/onvif/system/backup", "admin")
        self.assertTrue(ACCESS.lines[-1].endswith(" admin system GET /onvif/system/backup 200"),
                        ACCESS.lines[-1])

    def test_upload_needs_an_administrator_and_a_device_that_can_stage(self):
        archive = self.request("/onvif/system/backup", "admin").body
        token = self.caller.device.maintenance.open_upload()
        path = "/onvif/system/restore/" + token
        self.assertEqual(self.request(path, "operator", "POST", archive).status, 403)
        # Caller's device keeps its settings in memory: nothing to replace (checklist 8.4 #5:
        # a device error is HTTP 500).
        self.assertEqual(self.request(path, "admin", "POST", archive).status, 500)


class CanonicalFormTest(unittest.TestCase):
    def test_the_checksummed_form_is_the_same_on_both_runtimes(self):
        # Sorted keys, no spaces, non-ASCII as itself, control characters escaped: an archive
        # made on one runtime verifies on the other (their json modules differ on all four).
        value = {"b": [1, True, None, ("x", 2)], "a": "Zürich\n\"q\"\\"}
        self.assertEqual(backup.canonical(value),
                         '{"a":"Zürich\\u000a\\"q\\"\\\\","b":[1,true,null,["x",2]]}')
