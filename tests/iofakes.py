"""An in-memory HAL for the DeviceIO tests (portable): relays that remember their coil, inputs
a test flips, and a serial port whose far end is a script (`peer.answer(request) -> reply`)."""

from agent.bus import EventBus
from agent.deviceio import DeviceIO
from agent.device import Device
from agent.loop import Loop
from agent.settings import Settings
from hal.base import DigitalInput, Hal, HalError, RelayOutput, SerialPort
from tests.support import Clock

EPOCH = 1700000000  # the device's UTC time when the fake loop clock starts

BOARD = {
    "name": "door-1", "hal": "sim",
    "relays": [{"token": "R1"}, {"token": "R2", "idle_state": "closed", "mode": "Monostable",
                                 "delay_time": 2, "delay_times": [0.5, 60]}],
    "inputs": [{"token": "IN1"}, {"token": "IN2", "idle_state": "closed"}],
    "serial_ports": [{"token": "RS485", "type": "RS485HalfDuplex"}],
}


class FakeRelay(RelayOutput):
    def __init__(self, spec):
        RelayOutput.__init__(self, spec)
        self.energized = None
        self.fail = False

    def energize(self, on):
        if self.fail:
            raise HalError("USB relay board unplugged")
        self.energized = on


class FakeInput(DigitalInput):
    debounced = True  # the conformance suite tests debouncing; here it would only add waits

    def __init__(self, spec, loop):
        DigitalInput.__init__(self, spec, loop)
        self.level = False

    def read(self):
        return self.level

    def set(self, closed):
        self.level = closed
        self.edge()


class FakePort(SerialPort):
    """Bytes written go to `peer(data)`, which returns the bytes the far end sends back; they
    arrive `chunk` bytes per read. `written` keeps everything sent."""

    def __init__(self, spec):
        SerialPort.__init__(self, spec)
        self.peer = lambda data: b""
        self.incoming = b""
        self.written = b""
        self.chunk = 4
        self.accept = 1 << 30  # bytes write() takes per call

    def apply(self, config):
        if config["baud_rate"] == 1200:
            raise HalError("the UART cannot do 1200 baud")

    def read(self, limit):
        data = self.incoming[:min(limit, self.chunk)]
        self.incoming = self.incoming[len(data):]
        return data

    def write(self, data):
        taken = data[:self.accept]
        self.written += taken
        self.incoming += self.peer(taken)
        return len(taken)


class FakeHal(Hal):
    name = "fake"

    def __init__(self, board, loop):
        Hal.__init__(self, board, loop)
        self.relays = [FakeRelay(spec) for spec in board.get("relays", [])]
        self.inputs = [FakeInput(spec, loop) for spec in board.get("inputs", [])]
        self.serial_ports = [FakePort(spec) for spec in board.get("serial_ports", [])]


def make_device(board=BOARD, settings=None, store=None):
    """(device, hal, loop, clock, bus messages) with DeviceIO started on a fake clock; `store`
    (an agent.eventstore.EventStore) records from before the start."""
    clock = Clock()
    loop = Loop(clock=clock)

    def utc():  # the device's UTC clock moves with the loop's fake one
        return EPOCH + (clock.now - 1000) // 1000
    bus = EventBus(utc)
    messages = []
    bus.listen(messages.append)
    hal = FakeHal(board, loop)
    settings = settings or Settings()
    io = DeviceIO(hal, settings, loop, bus)
    device = Device(board, settings, hostname=lambda: "door-1", clock=utc, io=io, bus=bus,
                    loop=loop, store=store)
    io.start()
    return device, hal, loop, clock, messages


def advance(loop, clock, ms):
    """Let `ms` of fake time pass in 5 ms steps, running what falls due."""
    end = clock.now + ms
    while clock.now < end:
        clock.now = min(end, clock.now + 5)
        loop.run_once(0)
