"""agent.monitoring: checklist 8.7's monitoring events on a fake loop clock, with a fake CPU, a
fake network backend and sensor files: the Initialized values at start (1970 for what never
happened), the persisted times, change-only publishing and its thresholds and heartbeats,
LinkStatus as an ElementItem, unreadable sources, live-only topics kept out of the event store,
and GetEventProperties / PullMessages through the event service (schema-checked on CPython)."""

import unittest

from agent import log
from agent.app import build_app
from agent.datetimes import format_datetime
from agent.eventstore import EventStore, decode
from agent.monitoring import HEARTBEAT_MS, INTERVAL_MS, Monitor
from agent.notification import write_notification
from agent.ringstore import RingStore
from agent.settings import Settings
from agent.xmlwrite import XmlWriter
from tests.iofakes import EPOCH, advance, make_device
from tests.soapclient import InMemoryClient
from tests.support import AllowAll, Lines, remove_tree, scratch_dir
from tests.test_event_service import EVENTS, TT, WSNT, create, pull, topic_filter

NEVER = "1970-01-01T00:00:00Z"
WSTOP = "http://docs.oasis-open.org/wsn/t-1"
TNS1 = "http://www.onvif.org/ver10/topics"
CPU = "Monitoring/ProcessorUsage"
LINK = "Monitoring/LinkStatus"
TEMPERATURE = "Monitoring/EnvironmentalConditions/Temperature"
HUMIDITY = "Monitoring/EnvironmentalConditions/RelativeHumidity"
BATTERY = "Monitoring/BatteryCapacity"


class FakeCpu:
    """cpu_times(): `busy` and `total` jiffies the test advances with `run(total, busy)`."""

    def __init__(self, available=True):
        self.busy = 1000
        self.total = 4000
        self.available = available

    def __call__(self):
        return (self.busy, self.total) if self.available else None

    def run(self, total, busy):
        self.total += total
        self.busy += busy


def interface(token, speed=1000, duplex="Full", auto=True):
    oper = None if speed is None else {"auto": auto, "speed": speed, "duplex": duplex}
    return {"token": token, "enabled": True, "name": token, "oper": oper, "up": oper is not None}


class FakeNetwork:
    """The part of the network backend the monitor reads: interfaces()."""

    def __init__(self, interfaces):
        self.list = interfaces
        self.error = None

    def interfaces(self):
        if self.error is not None:
            raise self.error
        return self.list


class MonitorTestCase(unittest.TestCase):
    """A device on the in-memory HAL; `monitor(...)` makes and starts its Monitor."""

    def setUp(self):
        self.log = Lines()
        log.set_stream(self.log)
        self.dir = scratch_dir()
        self.settings = Settings()
        self.device, self.hal, self.loop, self.clock, self.messages = make_device(
            settings=self.settings)
        self.started = None

    def tearDown(self):
        if self.started is not None:
            self.started.close()
        self.device.io.close()
        self.loop.close()
        remove_tree(self.dir)
        log.set_stream(None)

    def monitor(self, network=None, cpu=None, sensors=()):
        del self.messages[:]
        self.started = Monitor(self.loop, self.device.bus, self.device.clock, self.settings,
                               network=network, cpu_times=cpu, sensors=sensors)
        self.started.start()
        self.device.monitor = self.started
        return self.started

    def sensor(self, kind, text, scale=1):
        path = "%s/%s" % (self.dir, kind)
        self.write(path, text)
        return {"kind": kind, "path": path, "scale": scale}

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    def seen(self, topic):
        """(operation, source, data) of each bus message on `topic` so far."""
        return [(m.operation, m.source, m.data) for m in self.messages if m.topic == topic]

    def tick(self, times=1):
        advance(self.loop, self.clock, INTERVAL_MS * times)


class StartTest(MonitorTestCase):
    def test_times_that_never_happened_are_1970_and_the_reboot_is_now(self):
        self.clock.now += 7000  # the device has been up 7 s when the monitor starts
        self.monitor()
        self.assertEqual([(m.topic, m.operation, m.data) for m in self.messages], [
            ("Monitoring/OperatingTime/LastReboot", "Initialized",
             (("Status", format_datetime(EPOCH + 7)),)),
            ("Monitoring/OperatingTime/LastReset", "Initialized", (("Status", NEVER),)),
            ("Monitoring/OperatingTime/LastClockSynchronization", "Initialized",
             (("Status", NEVER),)),
            ("Monitoring/Backup/Last", "Initialized", (("Status", NEVER),))])

    def test_the_factory_defaults_last_reset_is_reported(self):
        self.settings.update(last_reset=EPOCH - 3600)
        self.monitor()
        self.assertEqual(self.seen("Monitoring/OperatingTime/LastReset"), [
            ("Initialized", (), (("Status", format_datetime(EPOCH - 3600)),))])

    def test_clock_synchronisation_and_backup_times_survive_a_restart(self):
        self.monitor()
        self.clock.now += 5000
        self.device.time.announce_synchronization(self.device.bus)  # SetSystemDateAndTime
        self.device.bus.set_property("Monitoring/Backup/Last", [],
                                     [("Status", format_datetime(EPOCH + 9))])  # as MAINT does
        self.assertEqual((self.settings.get("last_clock_synchronization"),
                          self.settings.get("last_backup")), (EPOCH + 5, EPOCH + 9))
        self.started.close()
        self.monitor()  # the next start
        self.assertEqual(self.seen("Monitoring/OperatingTime/LastClockSynchronization"), [
            ("Changed", (), (("Status", format_datetime(EPOCH + 5)),))])
        self.assertEqual(self.seen("Monitoring/Backup/Last"), [
            ("Changed", (), (("Status", format_datetime(EPOCH + 9)),))])

    def test_frequent_synchronisations_rewrite_the_settings_hourly_at_most(self):
        self.monitor()
        announce = lambda: self.device.time.announce_synchronization(self.device.bus)
        announce()
        self.assertEqual(self.settings.get("last_clock_synchronization"), EPOCH)
        self.clock.now += 1024 * 1000  # NTP's next poll: published, not written
        announce()
        self.assertEqual(self.settings.get("last_clock_synchronization"), EPOCH)
        self.assertEqual(self.seen("Monitoring/OperatingTime/LastClockSynchronization")[-1],
                         ("Changed", (), (("Status", format_datetime(EPOCH + 1024)),)))
        self.clock.now += 2600 * 1000
        announce()
        self.assertEqual(self.settings.get("last_clock_synchronization"), EPOCH + 3624)

    def test_closed_it_publishes_nothing_more(self):
        cpu = FakeCpu()
        self.monitor(cpu=cpu)
        self.started.close()
        self.started = None
        cpu.run(1000, 500)
        del self.messages[:]
        self.tick(3)
        self.assertEqual(self.messages, [])


class ProcessorUsageTest(MonitorTestCase):
    def test_the_average_of_each_interval_when_it_moves_by_a_point(self):
        cpu = FakeCpu()
        self.monitor(cpu=cpu)
        self.assertEqual(self.seen(CPU), [], "no interval has passed yet")
        cpu.run(1000, 250)
        self.tick()
        usage = [(("Token", "CPU"),), (("Value", "25.0"),)]
        self.assertEqual(self.seen(CPU), [tuple(["Initialized"] + usage)])
        cpu.run(1000, 259)  # 25.9 %: less than a point from 25.0
        self.tick()
        self.assertEqual(len(self.seen(CPU)), 1)
        cpu.run(1000, 240)  # 24.0 %
        self.tick()
        self.assertEqual(self.seen(CPU)[-1], ("Changed", (("Token", "CPU"),),
                                              (("Value", "24.0"),)))

    def test_at_least_every_minute(self):
        cpu = FakeCpu()
        self.monitor(cpu=cpu)
        for _ in range(HEARTBEAT_MS // INTERVAL_MS + 1):
            cpu.run(1000, 100)
            self.tick()
        self.assertEqual([m[0] for m in self.seen(CPU)], ["Initialized", "Changed"])

    def test_absent_where_the_runtime_cannot_tell(self):
        for cpu in (None, FakeCpu(available=False)):
            self.monitor(cpu=cpu)
            self.tick(2)
            self.assertEqual(self.seen(CPU), [])
            self.assertFalse(CPU in [t.path for t in self.started.topics()])
            self.started.close()
        self.monitor(cpu=FakeCpu())
        self.assertTrue(CPU in [t.path for t in self.started.topics()])


def link(speed="1000", duplex="Full", auto="true"):
    return (("Link", ("NetworkInterfaceConnectionSetting",
                      (("AutoNegotiation", auto), ("Speed", speed), ("Duplex", duplex)))),)


class LinkStatusTest(MonitorTestCase):
    def test_each_linked_interface_at_start_then_changes_only(self):
        network = FakeNetwork([interface("eth0"), interface("wlan0", speed=None),
                               interface("eth1", 100, "Half", auto=False)])
        self.monitor(network=network)
        self.assertEqual(self.seen(LINK), [
            ("Initialized", (("Token", "eth0"),), link()),
            ("Initialized", (("Token", "eth1"),), link("100", "Half", "false"))])
        self.tick(2)
        self.assertEqual(len(self.seen(LINK)), 2, "nothing changed")
        network.list = [interface("eth0", 100), interface("wlan0", 54, "Half"),
                        interface("eth1", None)]
        self.tick()
        self.assertEqual(self.seen(LINK)[2:], [
            ("Changed", (("Token", "eth0"),), link("100")),
            ("Initialized", (("Token", "wlan0"),), link("54", "Half")),
            ("Deleted", (("Token", "eth1"),), link("100", "Half", "false"))])
        network.list = [interface("eth0", 100)]  # wlan0 gone
        self.tick()
        self.assertEqual(self.seen(LINK)[5:], [
            ("Deleted", (("Token", "wlan0"),), link("54", "Half"))])

    def test_a_failing_backend_logs_once_and_is_read_again(self):
        network = FakeNetwork([interface("eth0")])
        self.monitor(network=network)
        network.error = OSError("netlink gone")
        self.tick(3)
        self.assertEqual(len([line for line in self.log.lines if "netlink gone" in line]), 1)
        network.error = None
        network.list = [interface("eth0", 10)]
        self.tick()
        self.assertEqual(self.seen(LINK)[-1], ("Changed", (("Token", "eth0"),), link("10")))

    def test_absent_without_a_network_backend(self):
        self.monitor()
        self.assertFalse(LINK in [t.path for t in self.started.topics()])
        self.monitor(network=FakeNetwork([]))
        self.assertTrue(LINK in [t.path for t in self.started.topics()])


class SensorTest(MonitorTestCase):
    def test_a_temperature_moves_by_five_percent_or_once_a_minute(self):
        spec = self.sensor("temperature", "40000\n", scale=0.001)
        self.monitor(sensors=[spec])
        self.assertEqual(self.seen(TEMPERATURE), [("Initialized", (), (("Status", "40.0"),))])
        self.write(spec["path"], "41900")  # +4.75 %
        self.tick()
        self.assertEqual(len(self.seen(TEMPERATURE)), 1)
        self.write(spec["path"], "42000")  # +5 %
        self.tick()
        self.assertEqual(self.seen(TEMPERATURE)[-1], ("Changed", (), (("Status", "42.0"),)))
        self.tick(HEARTBEAT_MS // INTERVAL_MS)
        self.assertEqual(len(self.seen(TEMPERATURE)), 3, "the minute's heartbeat")

    def test_humidity_by_a_point_battery_by_two_and_never_by_time(self):
        humidity = self.sensor("humidity", "50.5")
        battery = self.sensor("battery", "80")
        self.monitor(sensors=[humidity, battery])
        self.write(humidity["path"], "51.4")
        self.write(battery["path"], "78.5")
        self.tick()
        self.assertEqual((len(self.seen(HUMIDITY)), len(self.seen(BATTERY))), (1, 1))
        self.write(humidity["path"], "51.5")
        self.write(battery["path"], "78")
        self.tick()
        self.assertEqual(self.seen(HUMIDITY)[-1], ("Changed", (), (("Status", "51.5"),)))
        self.assertEqual(self.seen(BATTERY)[-1], ("Changed", (), (
            ("PercentageRemainingCapacity", "78.0"),)))
        self.tick(2 * HEARTBEAT_MS // INTERVAL_MS)
        self.assertEqual(len(self.seen(BATTERY)), 2, "the battery reports changes only")
        self.assertTrue(len(self.seen(HUMIDITY)) >= 4, "humidity once a minute")

    def test_only_declared_sensors_have_topics(self):
        self.monitor(sensors=[self.sensor("battery", "80")])
        paths = [t.path for t in self.started.topics()]
        self.assertTrue(BATTERY in paths)
        self.assertFalse(TEMPERATURE in paths or HUMIDITY in paths)

    def test_an_unreadable_sensor_logs_once_and_publishes_nothing(self):
        spec = self.sensor("temperature", "hot")
        missing = {"kind": "humidity", "path": self.dir + "/none", "scale": 1}
        self.monitor(sensors=[spec, missing])
        self.tick(3)
        self.assertEqual(self.seen(TEMPERATURE) + self.seen(HUMIDITY), [])
        for path in (spec["path"], missing["path"]):
            self.assertEqual(len([line for line in self.log.lines if path in line]), 1, path)
        self.write(spec["path"], "nan")
        self.tick()
        self.assertEqual(self.seen(TEMPERATURE), [], "not a finite number")
        self.write(spec["path"], "21.5")
        self.tick()
        self.assertEqual(self.seen(TEMPERATURE), [("Initialized", (), (("Status", "21.5"),))])


class StorageTest(MonitorTestCase):
    def test_measurements_are_live_only_and_the_rest_is_stored(self):
        ring = RingStore(self.dir + "/events.ring", 8192)
        self.device.bus.listen(EventStore(ring).record)
        cpu = FakeCpu()
        self.monitor(network=FakeNetwork([interface("eth0")]), cpu=cpu,
                     sensors=[self.sensor("temperature", "20"), self.sensor("battery", "90")])
        for step in range(3):
            cpu.run(1000, 100 + 300 * step)
            self.tick()
        topics = [m.topic for m in self.messages]
        self.assertTrue(CPU in topics and TEMPERATURE in topics and BATTERY in topics)
        stored = [decode(time, payload) for _, time, payload in ring.records()]
        ring.close()
        self.assertEqual([m.topic for m in stored], [
            "Monitoring/OperatingTime/LastReboot", "Monitoring/OperatingTime/LastReset",
            "Monitoring/OperatingTime/LastClockSynchronization", "Monitoring/Backup/Last", LINK])
        link_status = [m for m in self.messages if m.topic == LINK][0]
        self.assertEqual(notification(stored[-1]), notification(link_status),
                         "a replayed LinkStatus is the same notification")


def notification(message):
    out = []
    w = XmlWriter(out.append)
    write_notification(w, message)
    w.close()
    return b"".join(out)


class EventServiceTest(MonitorTestCase):
    """What a client sees: the topics in GetEventProperties, the notifications it pulls."""

    def setUp(self):
        MonitorTestCase.setUp(self)
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def call(self, body, path=EVENTS):
        response = self.client.call(body, path=path)
        self.assertEqual(response.status, 200, response.body)
        return response

    def descriptions(self):
        """Topic path -> its tt:MessageDescription, from GetEventProperties."""
        found = {}

        def walk(element, path):
            for child in element.children:
                if child.ns == TT:
                    found["/".join(path)] = child
                else:
                    walk(child, path + [child.name])
        walk(self.call("<tev:GetEventProperties/>").body_child.find(WSTOP, "TopicSet"), [])
        return found

    def test_get_event_properties_lists_what_the_device_monitors(self):
        self.monitor(network=FakeNetwork([]), cpu=FakeCpu(),
                     sensors=[self.sensor("humidity", "40")])
        found = self.descriptions()
        for path in ("Monitoring/OperatingTime/LastReboot", "Monitoring/OperatingTime/LastReset",
                     "Monitoring/OperatingTime/LastClockSynchronization", "Monitoring/Backup/Last",
                     CPU, LINK, HUMIDITY, "Device/OperationMode/ShutdownInitiated"):
            self.assertTrue(path in found, path)
        self.assertFalse(TEMPERATURE in found or BATTERY in found)
        self.assertEqual(found["Device/OperationMode/ShutdownInitiated"].get("IsProperty"),
                         "false")
        (element,) = found[LINK].find(TT, "Data").children
        self.assertEqual((element.name, element.get("Name"), element.get("Type")),
                         ("ElementItemDescription", "Link",
                          "tt:NetworkInterfaceConnectionSetting"))
        source = found[CPU].find(TT, "Source").find(TT, "SimpleItemDescription")
        self.assertEqual((source.get("Name"), source.get("Type")), ("Token", "tt:ReferenceToken"))

    def test_without_a_monitor_only_the_clock_is_listed(self):
        found = self.descriptions()
        self.assertEqual([p for p in found if p.startswith("Monitoring/")],
                         ["Monitoring/OperatingTime/LastClockSynchronization"])

    def test_a_pull_point_receives_link_status_as_an_element_item(self):
        cpu = FakeCpu()
        self.monitor(network=FakeNetwork([interface("eth0")]), cpu=cpu)
        path = self.subscribe("tns1:Monitoring/LinkStatus|tns1:Monitoring/ProcessorUsage")
        cpu.run(2000, 1000)
        self.tick()
        notes = self.call(pull(timeout="PT0S"), path=path).body_child.findall(
            WSNT, "NotificationMessage")
        messages = [n.find(WSNT, "Message").find(TT, "Message") for n in notes]
        self.assertEqual([n.findtext(WSNT, "Topic").strip() for n in notes],
                         ["tns1:" + LINK, "tns1:" + CPU])
        item = messages[0].find(TT, "Data").find(TT, "ElementItem")
        setting = item.find(TT, "NetworkInterfaceConnectionSetting")
        self.assertEqual((item.get("Name"), [(c.name, c.text) for c in setting.children]),
                         ("Link", [("AutoNegotiation", "true"), ("Speed", "1000"),
                                   ("Duplex", "Full")]))
        self.assertEqual(messages[0].find(TT, "Source").find(TT, "SimpleItem").get("Value"),
                         "eth0")
        value = messages[1].find(TT, "Data").find(TT, "SimpleItem")
        self.assertEqual((value.get("Name"), value.get("Value")), ("Value", "50.0"))

    def test_a_topic_the_device_does_not_monitor_is_refused(self):
        self.monitor()
        response = self.client.call(create(filter_xml=topic_filter(
            "tns1:Monitoring/ProcessorUsage")), path=EVENTS)
        self.assertTrue(b"TopicNotSupportedFault" in response.body, response.body)

    def subscribe(self, expression):
        response = self.call(create(filter_xml=topic_filter(expression)))
        address = response.body_child.find(
            "http://www.onvif.org/ver10/events/wsdl", "SubscriptionReference").findtext(
            "http://www.w3.org/2005/08/addressing", "Address")
        return address[len("http://device.test:8080"):]
