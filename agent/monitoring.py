"""The device's monitoring events (checklist 8.7), published on the event bus.

At start: LastReboot (now: the device is the agent, and SystemReboot restarts it), LastReset,
LastClockSynchronization and Backup/Last, the last three from the settings (1970-01-01T00:00:00Z
when it never happened, as 8.7 asks). The Monitor remembers every later LastClockSynchronization
and Backup/Last the bus carries (agent.clock, the backup download), so a restart reports them
again; `last_reset` is written by the factory default itself.

Then every INTERVAL_MS on a loop timer (file reads only, nothing that blocks):
- ProcessorUsage (Source Token "CPU"): the busy share of the CPU times (agent.compat.cpu_times)
  over the interval, 8.7's ~5 s average, in percent;
- LinkStatus per network interface with a link (the backend's "oper" settings): published when
  it changes, Deleted when the link or the interface goes;
- the sensors a board declares (`sensors`, boards/README.md): Temperature, RelativeHumidity,
  BatteryCapacity, each a number read from a file (sysfs) times its scale.

A measurement is published when it moved by its threshold from the value last published, and
at least every HEARTBEAT_MS (none for the battery, 8.7: "on >= 2 % change"): ProcessorUsage by 1
percentage point, RelativeHumidity by 1 point, Temperature by 5 % of its value, BatteryCapacity
by 2 points. A CPU's load moves by a point all the time, so ProcessorUsage may come every
interval on a busy device; that is the point of it, and its messages (like the sensors') are
live-only: agent.eventstore does not keep them (agent.topics.LIVE_ONLY).
"""

from . import log
from .datetimes import format_datetime, parse_datetime
from .topics import (BACKUP_LAST, BATTERY_CAPACITY, LAST_CLOCK_SYNCHRONIZATION, LAST_REBOOT,
                     LAST_RESET, LINK_STATUS, PROCESSOR_USAGE, RELATIVE_HUMIDITY,
                     SHUTDOWN_INITIATED, TEMPERATURE)

INTERVAL_MS = 5000     # 8.7: ProcessorUsage is an average over ~5 s
HEARTBEAT_MS = 60000   # 8.7: humidity and temperature "every ~60 s or on change"
CPU_TOKEN = "CPU"

KEEP_WITHIN_S = 3600

# Times that survive a restart: (topic, settings key). "last_reset" is the factory default's.
PERSISTED = ((LAST_RESET, "last_reset"),
             (LAST_CLOCK_SYNCHRONIZATION, "last_clock_synchronization"),
             (BACKUP_LAST, "last_backup"))

# Board sensor kind -> (topic, Data item, threshold, relative threshold?, heartbeat).
SENSORS = {
    "temperature": (TEMPERATURE, "Status", 0.05, True, HEARTBEAT_MS),
    "humidity": (RELATIVE_HUMIDITY, "Status", 1, False, HEARTBEAT_MS),
    "battery": (BATTERY_CAPACITY, "PercentageRemainingCapacity", 2, False, None),
}


class Gauge:
    """One measured property instance: `offer(value, now_ms)` publishes it when it moved by
    `threshold` (a fraction of the last published value when `relative`) or when
    `heartbeat_ms` (None: never) passed since the last publication."""

    def __init__(self, bus, topic, source, item, threshold, relative=False,
                 heartbeat_ms=HEARTBEAT_MS):
        self.bus = bus
        self.topic = topic
        self.source = source
        self.item = item
        self.threshold = threshold
        self.relative = relative
        self.heartbeat_ms = heartbeat_ms
        self.value = None  # last published
        self.at = None     # loop time of that publication

    def offer(self, value, now_ms):
        if self.value is not None:
            step = abs(value - self.value)
            limit = self.threshold * abs(self.value) if self.relative else self.threshold
            moved = step > 0 and step >= limit
            due = self.heartbeat_ms is not None and now_ms - self.at >= self.heartbeat_ms
            if not (moved or due):
                return
        self.value = value
        self.at = now_ms
        self.bus.set_property(self.topic.path, self.source, [(self.item, "%.1f" % value)])


def read_sensor(spec):
    """The number in the sensor's file times its scale; OSError or ValueError if there is
    none (no file, not a number, not finite)."""
    with open(spec["path"]) as f:
        value = float(f.read().strip()) * spec["scale"]
    if value - value != 0:  # inf or nan: no xs:float a client expects
        raise ValueError("%r is not a finite number" % value)
    return value


def link_setting(oper):
    """LinkStatus's Link ElementItem (tt:NetworkInterfaceConnectionSetting) of a backend
    interface's "oper" dict, or None when it has no link to report."""
    if not oper or oper.get("speed") is None or oper.get("duplex") not in ("Full", "Half"):
        return None
    return ("NetworkInterfaceConnectionSetting",
            (("AutoNegotiation", "true" if oper.get("auto") else "false"),
             ("Speed", str(int(oper["speed"]))), ("Duplex", oper["duplex"])))


class Monitor:
    """Publishes the monitoring events of one device. `clock()` is the device's UTC seconds,
    `settings` its agent.settings.Settings, `network` its network backend (None: no
    LinkStatus), `cpu_times()` agent.compat.cpu_times or a fake (None, or a first reading of
    None: no ProcessorUsage), `sensors` the board's checked `sensors` entries."""

    def __init__(self, loop, bus, clock, settings, network=None, cpu_times=None, sensors=()):
        self.loop = loop
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.network = network
        self.cpu_times = cpu_times
        self._cpu = cpu_times() if cpu_times is not None else None  # the last reading
        self.cpu = Gauge(bus, PROCESSOR_USAGE, [("Token", CPU_TOKEN)], "Value", 1)
        self.sensors = []  # (spec, Gauge)
        for spec in sensors:
            topic, item, threshold, relative, heartbeat = SENSORS[spec["kind"]]
            self.sensors.append((spec, Gauge(bus, topic, [], item, threshold, relative,
                                             heartbeat)))
        self.links = {}      # interface token -> its last published Link value
        self.failing = []    # what failed at the last reading, so each failure logs once
        self.timer = None

    def topics(self):
        """The agent.topics.Topic list of what this device monitors (GetEventProperties)."""
        topics = [LAST_REBOOT, LAST_RESET, BACKUP_LAST, SHUTDOWN_INITIATED]
        if self._cpu is not None:
            topics.append(PROCESSOR_USAGE)
        if self.network is not None:
            topics.append(LINK_STATUS)
        return topics + [gauge.topic for _, gauge in self.sensors]

    def start(self):
        self.bus.set_property(LAST_REBOOT.path, [], [("Status", format_datetime(self.clock()))])
        for topic, key in PERSISTED:
            self.bus.set_property(topic.path, [], [
                ("Status", format_datetime(self.settings.get(key, 0)))])
        self.bus.listen(self._remember)
        self._read(self.loop.clock())
        self.timer = self.loop.call_later(INTERVAL_MS, self._tick)

    def close(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.bus.unlisten(self._remember)

    def _remember(self, message):
        """Persist a LastClockSynchronization or Backup/Last time another part published."""
        for topic, key in PERSISTED:
            if message.topic != topic.path:
                continue
            when = parse_datetime(dict(message.data).get("Status", ""))
            # NTP synchronises every 17 minutes: writing each one would wear a board's flash,
            # so a time is rewritten only when it moved by more than KEEP_WITHIN_S (after a
            # restart, LastClockSynchronization may then read up to an hour early).
            if when is not None and abs(when - self.settings.get(key, 0)) > KEEP_WITHIN_S:
                try:
                    self.settings.update(**{key: when})
                except OSError as exc:  # the event itself was delivered
                    log.warning("monitoring: %s not kept: %s", topic.path, exc)

    def _tick(self):
        self.timer = self.loop.call_later(INTERVAL_MS, self._tick)
        now = self.loop.clock()
        self._read_cpu(now)
        self._read(now)

    def _read(self, now):
        if self.network is not None:
            self._read_links()
        for spec, gauge in self.sensors:
            try:
                value = read_sensor(spec)
            except (OSError, ValueError) as exc:
                self._failed(spec["path"], "%s sensor %s unreadable: %s"
                             % (spec["kind"], spec["path"], exc))
                continue
            self._recovered(spec["path"])
            gauge.offer(value, now)

    def _read_cpu(self, now):
        if self._cpu is None:
            return
        sample = self.cpu_times()
        if sample is None:
            return
        busy = sample[0] - self._cpu[0]
        total = sample[1] - self._cpu[1]
        self._cpu = sample
        if total > 0:
            self.cpu.offer(100.0 * busy / total, now)

    def _read_links(self):
        try:
            interfaces = self.network.interfaces()
        except Exception as exc:  # a backend's NetworkError or OSError: try again next time
            self._failed("network", "network interfaces unreadable: %s" % exc)
            return
        self._recovered("network")
        present = []
        for interface in interfaces:
            link = link_setting(interface.get("oper"))
            if link is None:
                continue
            token = interface["token"]
            present.append(token)
            if self.links.get(token) != link:
                self.links[token] = link
                self.bus.set_property(LINK_STATUS.path, [("Token", token)], [("Link", link)])
        for token in [t for t in self.links if t not in present]:
            del self.links[token]
            self.bus.delete(LINK_STATUS.path, [("Token", token)])

    def _failed(self, what, line):
        if what not in self.failing:
            self.failing.append(what)
            log.warning("monitoring: %s", line)

    def _recovered(self, what):
        if what in self.failing:
            self.failing.remove(what)
