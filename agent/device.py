"""The device's identity and shared state, read by every service."""

from hal.base import Hal

from .bus import EventBus
from .clock import DeviceClock
from .compat import utc_seconds
from .deviceio import DeviceIO
from .loop import Loop
from .maintenance import Maintenance
from .scopes import Scopes
from .subscriptions import Subscriptions
from .users import Users


class Device:
    """Identity (board, endpoint reference), clock, host name, users and discovery scopes of
    this device.

    `hostname` and `clock` are injected callables so the services stay sans-IO: the CLI passes
    the operating system's, tests pass fixed ones. `clock` is the host's UTC clock; `time` (and
    `clock`, the same object) is the device's: that plus the SetSystemDateAndTime offset.
    `users` is the agent.users.Users database (an empty in-memory one when not given). `io` is
    the agent.deviceio.DeviceIO over the board's HAL and `bus` the event bus it publishes to
    (the CLI makes both; without them the device has no I/O). `loop` runs the subscriptions'
    timers (a private one when not given). `store` is the agent.eventstore.EventStore keeping
    every bus message (None: no persistent notification storage, checklist 10.2).
    """

    def __init__(self, board, settings, *, hostname=None, clock=utc_seconds, users=None,
                 io=None, bus=None, loop=None, store=None, rtc=None):
        self.board = board
        # The device's own clock (agent.clock): the given host clock plus the offset
        # SetSystemDateAndTime keeps in the settings; every part of the device reads it.
        # On a board, `rtc` sets its real-time clock instead (compat.rtc_setter).
        self.time = clock = DeviceClock(settings, clock, rtc=rtc)
        self.bus = EventBus(clock) if bus is None else bus
        # Event subscriptions (issue 7) on the agent's loop; `notify` is the push sender
        # (agent.notify.NotifySender), None where push subscriptions are not offered.
        loop = loop or Loop()
        self.subscriptions = Subscriptions(loop, self.bus, clock, store)
        self.store = store
        if store is not None:
            self.bus.listen(store.record)
        self.notify = None
        # The agent.monitoring.Monitor publishing checklist 8.7's events (set by the CLI).
        self.monitor = None
        self.io = DeviceIO(Hal(board, None), settings, None, self.bus) if io is None else io
        self.settings = settings
        self.users = Users() if users is None else users
        self.scopes = Scopes(board, settings)  # scopes and discovery mode (agent.scopes)
        self._hostname = hostname or (lambda: "")
        self.clock = clock
        # The NTP client keeping `time` in NTP mode (agent.ntp_client), set by the CLI.
        self.ntp = None
        # The ports the CLI serves on (GetNetworkProtocols, TLS capabilities); HTTPS None = off.
        self.http_port = 80
        self.https_port = None
        # Factory default, restore and reboot (agent.maintenance) restart from a loop timer
        # through `restart(kind)`, which the CLI sets (None: this device cannot restart).
        self.maintenance = Maintenance(self, loop)
        self.restart = None
        # The network backend (hal.net, issue 8) and the listening sockets' SetNetworkProtocols
        # hook (agent.protocols.Listeners); the CLI sets both, None without them.
        self.network = None
        self.protocols = None

    @property
    def endpoint_reference(self):
        """The WS-Discovery EPR address, `urn:uuid:...`, stable across restarts (checklist 7)."""
        return "urn:uuid:" + self.settings.get("endpoint_uuid")

    def hostname(self):
        return self._hostname()
