"""hal.micropython (board "hal": "machine") against tests/fake_machine: pins made as the board
says, inputs polled on a loop timer between start() and close(), UARTs within what machine.UART
offers. Portable: runs on CPython and inside MicroPython (neither has a real `machine`)."""

import sys
import unittest

from tests import fake_machine

sys.modules["machine"] = fake_machine  # before hal.micropython imports it

from agent.loop import Loop
from hal import micropython, open_hal
from hal.base import POLL_MS, HalError
from tests.hal_conformance import HalConformance
from tests.support import Clock


def wire_level(spec, closed):
    """The level an input contact puts on its pin, as the board's wiring does."""
    pull = spec.get("pull", "up")
    low_when_closed = pull == "up" or (pull == "off" and spec.get("active_low", True))
    return 0 if closed == low_when_closed else 1


def on_level(spec):
    return 0 if spec.get("active_low", False) else 1


def error_of(call, *args):
    """The message of the HalError `call(*args)` raises."""
    try:
        call(*args)
    except HalError as exc:
        return str(exc)
    raise AssertionError("no HalError")


class Peer:
    """The far end of a fake UART, as the conformance suite wants it."""

    def __init__(self, uart):
        self.uart = uart

    def send(self, data):
        self.uart.peer_send(data)

    def receive(self):
        return self.uart.peer_receive()


def machine_board():
    return {
        "name": "pico", "hal": "machine",
        "relays": [{"token": "R1", "pin": 2},
                   {"token": "R2", "pin": "GP3", "contact": "NC", "active_low": True}],
        "inputs": [{"token": "IN1", "pin": 4},
                   {"token": "IN2", "pin": 5, "pull": "down", "debounce_ms": 30}],
        "serial_ports": [{"token": "S1", "device": 1, "tx": 8, "rx": 9, "type": "RS485HalfDuplex",
                          "direction": "auto", "baud_rate": 19200, "parity": "Even",
                          "character_length": 7, "stop_bits": 2,
                          "parities": ["None", "Even", "Odd", "Mark", "Space"]}],
    }


class MachineConformance(HalConformance, unittest.TestCase):
    def board(self):
        fake_machine.reset()
        return machine_board()

    def make_hal(self, board, loop):
        return micropython.create(board, loop)

    def relay_energized(self, hal, index):
        spec = self.spec["relays"][index]
        return fake_machine.pins[spec["pin"]].level == on_level(spec)

    def set_input(self, hal, index, closed):
        spec = self.spec["inputs"][index]
        fake_machine.pins[spec["pin"]].wire(wire_level(spec, closed))

    def serial_peer(self, hal, index):
        return Peer(fake_machine.uarts[self.spec["serial_ports"][index]["device"]])

    def released(self, hal):
        reads = [fake_machine.pins[spec["pin"]].reads for spec in self.spec["inputs"]]
        self.pump(10 * POLL_MS)
        return (reads == [fake_machine.pins[spec["pin"]].reads for spec in self.spec["inputs"]]
                and not [s for s in self.spec["relays"]
                         if fake_machine.pins[s["pin"]].level == on_level(s)]
                and fake_machine.uarts[1].deinited)


class MachineBoardTest(unittest.TestCase):
    def setUp(self):
        fake_machine.reset()
        self.clock = Clock()
        self.loop = Loop(clock=self.clock)
        self.changes = []

    def tearDown(self):
        self.loop.close()

    def open(self, board):
        hal = open_hal(board, self.loop)
        for line in hal.inputs:
            line.listener = self.changes.append
        return hal

    def pump(self, ms):
        end = self.clock.now + ms
        while self.clock.now < end:
            self.clock.now += 1
            self.loop.run_once(0)

    def test_open_hal_finds_the_machine_backend(self):
        hal = self.open(machine_board())
        self.assertIsInstance(hal, micropython.MachineHal)
        self.assertEqual(hal.name, "machine")
        hal.close()

    def test_relay_pins_are_outputs_made_at_the_released_level(self):
        self.open(machine_board())
        plain, active_low = fake_machine.pins[2], fake_machine.pins["GP3"]
        self.assertEqual((plain.mode, plain.level), (fake_machine.Pin.OUT, 0))
        self.assertEqual((active_low.mode, active_low.level), (fake_machine.Pin.OUT, 1))

    def test_input_pins_get_the_boards_pull(self):
        board = machine_board()
        board["inputs"].append({"token": "IN3", "pin": 6, "pull": "off"})
        self.open(board)
        found = [(fake_machine.pins[n].mode, fake_machine.pins[n].pull) for n in (4, 5, 6)]
        self.assertEqual(found, [(fake_machine.Pin.IN, fake_machine.Pin.PULL_UP),
                                 (fake_machine.Pin.IN, fake_machine.Pin.PULL_DOWN),
                                 (fake_machine.Pin.IN, None)])

    def test_external_resistor_reads_as_active_low_says(self):
        board = machine_board()
        board["inputs"] = [{"token": "LOW", "pin": 6, "pull": "off"},
                           {"token": "HIGH", "pin": 7, "pull": "off", "active_low": False}]
        low, high = self.open(board).inputs
        fake_machine.pins[6].wire(0)
        fake_machine.pins[7].wire(0)
        self.assertEqual((low.read(), high.read()), (True, False))
        fake_machine.pins[6].wire(1)
        fake_machine.pins[7].wire(1)
        self.assertEqual((low.read(), high.read()), (False, True))

    def test_inputs_are_sampled_only_between_start_and_close(self):
        hal = self.open(machine_board())
        pin = fake_machine.pins[4]
        self.pump(10 * POLL_MS)
        self.assertEqual(pin.reads, 0, "no timer before start()")
        hal.start()
        before = pin.reads
        self.pump(10 * POLL_MS)
        self.assertEqual(pin.reads - before, 10, "one sample every POLL_MS")
        hal.close()
        after = pin.reads
        self.pump(10 * POLL_MS)
        self.assertEqual(pin.reads, after, "the timer stops at close()")

    def test_a_change_is_reported_a_sample_then_a_debounce_time_later(self):
        hal = self.open(machine_board())
        hal.start()
        fake_machine.pins[5].wire(1)  # IN2: pull-down, closed reads high, debounce 30 ms
        self.pump(POLL_MS + 29)
        self.assertEqual(self.changes, [])
        self.pump(1)
        self.assertEqual(self.changes, [True])
        hal.close()

    def test_a_refused_pin_is_named(self):
        board = machine_board()
        board["inputs"][1]["pin"] = fake_machine.BAD_PIN
        message = error_of(self.open, board)
        self.assertIn("IN2", message)
        self.assertIn("99", message)

    def test_uart_starts_with_the_boards_configuration(self):
        self.open(machine_board())
        self.assertEqual(fake_machine.uarts[1].settings,
                         {"baudrate": 19200, "bits": 7, "parity": 0, "stop": 2, "tx": 8, "rx": 9})

    def test_configure_reinitializes_the_uart(self):
        port = self.open(machine_board()).serial_ports[0]
        port.configure({"baud_rate": 115200, "parity": "Odd", "character_length": 8,
                        "stop_bits": 1.0})
        self.assertEqual(fake_machine.uarts[1].settings,
                         {"baudrate": 115200, "bits": 8, "parity": 1, "stop": 1, "tx": 8, "rx": 9})
        port.configure(dict(port.config, parity="None"))
        self.assertEqual(fake_machine.uarts[1].settings["parity"], None)

    def test_mark_and_space_parity_and_one_and_a_half_stop_bits_are_not_offered(self):
        board = machine_board()
        board["serial_ports"][0]["stop_bit_list"] = [1, 1.5, 2]
        hal = self.open(board)
        port = hal.serial_ports[0]
        self.assertEqual(port.options["parities"], ["None", "Even", "Odd"])
        self.assertEqual(port.options["stop_bits"], [1.0, 2.0])
        self.assertFalse(port.allows({"parity": "Mark"}))
        self.assertFalse(port.allows({"stop_bits": 1.5}))
        lacks = [line for line in hal.unsupported if "Mark and Space" in line]
        self.assertEqual(len(lacks), 1)
        self.assertIn("1.5 stop bits", lacks[0])

    def test_a_start_configuration_the_uart_lacks_is_refused_naming_the_field(self):
        for field, value in (("parity", "Space"), ("stop_bits", 1.5)):
            board = machine_board()
            board["serial_ports"][0][field] = value
            message = error_of(self.open, board)
            self.assertIn('"%s"' % field, message)
            self.assertIn("S1", message)

    def test_kernel_rs485_direction_is_refused_naming_the_field(self):
        board = machine_board()
        board["serial_ports"][0]["direction"] = "kernel"
        message = error_of(self.open, board)
        self.assertIn('"direction"', message)
        self.assertIn("auto", message)

    def test_a_missing_uart_is_named(self):
        board = machine_board()
        board["serial_ports"][0]["device"] = 7
        self.assertIn("UART 7", error_of(self.open, board))

    def test_read_never_waits_and_keeps_to_the_limit(self):
        port = self.open(machine_board()).serial_ports[0]
        self.assertEqual(port.read(64), b"", "None from the UART is no bytes")
        self.assertIsNone(port.pollable(), "the agent polls read() every POLL_MS")
        fake_machine.uarts[1].peer_send(b"0123456789")
        self.assertEqual(port.read(4), b"0123")
        self.assertEqual(port.read(64), b"456789")
        self.assertEqual(port.read(64), b"")

    def test_write_returns_what_the_uart_took(self):
        port = self.open(machine_board()).serial_ports[0]
        uart = fake_machine.uarts[1]
        uart.room = 0
        self.assertEqual(port.write(b"abc"), 0, "None from the UART is nothing taken")
        uart.room = 2
        self.assertEqual(port.write(b"abc"), 2)
        self.assertEqual(uart.peer_receive(), b"ab")


if __name__ == "__main__":
    unittest.main()


class BoardClockTest(unittest.TestCase):
    """compat.rtc_setter: on a board the device's time goes into machine.RTC (agent.clock)."""

    def setUp(self):
        fake_machine.reset()

    def test_utc_seconds_become_the_rtc_datetime_tuple(self):
        from agent import compat
        compat.rtc_setter()(1700000000)  # 2023-11-14 22:13:20 UTC, a Tuesday
        compat.rtc_setter()(951782400)   # 2000-02-29 00:00:00 UTC, a Tuesday
        self.assertEqual(fake_machine.rtc_set, [(2023, 11, 14, 1, 22, 13, 20, 0),
                                                (2000, 2, 29, 1, 0, 0, 0, 0)])
