"""Serial ports of Linux boards (a Pi's /dev/ttyAMA0, a BeagleBone's /dev/ttyS1, a USB RS-485
adapter) on pyserial, shared by hal.pi and hal.beaglebone. CPython only.

Non-blocking both ways (timeout=0, write_timeout=0) so the agent's one loop never waits on a
UART; `pollable()` hands the loop the file descriptor. RS-485 half-duplex direction is switched
by the kernel's rs485 mode ("direction": "kernel", the TIOCSRS485 ioctl) or by the transceiver
("auto"); pyserial's software `serial.rs485.RS485` class, which sleeps around every write, is
never used (hal.base: nothing sleeps).
"""

import os
import termios

import serial
import serial.rs485

from hal.base import HalError, SerialPort

PARITY = {"None": serial.PARITY_NONE, "Even": serial.PARITY_EVEN, "Odd": serial.PARITY_ODD,
          "Mark": serial.PARITY_MARK, "Space": serial.PARITY_SPACE}
STOP_BITS = {1.0: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE,
             2.0: serial.STOPBITS_TWO}

# What pyserial lets escape for a refused setting or a failed transfer: SerialException is an
# OSError, a bad value a ValueError, and a termios.tcsetattr refusal leaks as termios.error.
FAILURES = (OSError, ValueError, termios.error)


def pyserial_settings(token, config):
    """hal.base configuration keys -> pyserial's `apply_settings` keys."""
    if config["parity"] not in PARITY or float(config["stop_bits"]) not in STOP_BITS:
        raise HalError("serial port %s: no parity %r or stop bits %r on this UART"
                       % (token, config["parity"], config["stop_bits"]))
    return {"baudrate": config["baud_rate"], "bytesize": config["character_length"],
            "parity": PARITY[config["parity"]], "stopbits": STOP_BITS[float(config["stop_bits"])]}


class PySerialPort(SerialPort):
    """One pyserial port: a device path, or any pyserial URL (loop://, rfc2217://...).

    Local UARTs are opened exclusively (a second agent on the same bus would garble both)
    and are pollable; URL ports have no descriptor, so the agent reads them every POLL_MS.
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.device = spec["device"]
        try:
            self.port = serial.serial_for_url(self.device, timeout=0, write_timeout=0,
                                              exclusive=True,
                                              **pyserial_settings(self.token, self.config))
        except FAILURES as exc:
            raise HalError("serial port %s: cannot open %s: %s" % (self.token, self.device, exc))
        self.fd = self.port.fileno() if isinstance(self.port, serial.Serial) else None
        if self.direction == "kernel":
            self._enable_kernel_rs485()

    def _enable_kernel_rs485(self):
        """The UART driver raises RTS around each frame itself. A port that cannot (a pty, a
        UART whose driver has no rs485 support, a URL) is a board-file error: failing here
        beats a half-duplex bus whose transceiver never turns around."""
        try:
            if self.fd is None:
                raise ValueError("not a local UART")
            self.port.rs485_mode = serial.rs485.RS485Settings(rts_level_for_tx=True,
                                                              rts_level_for_rx=False)
        except FAILURES as exc:
            self.port.close()
            raise HalError('serial port %s: %s has no kernel RS-485 mode (%s); use '
                           '"direction": "auto" for a transceiver that switches itself'
                           % (self.token, self.device, exc))

    def apply(self, config):
        """Reconfigure; on failure the last good configuration is put back (pyserial applies
        settings one at a time, so a refusal could leave the port half changed)."""
        try:
            self.port.apply_settings(pyserial_settings(self.token, config))
        except FAILURES as exc:
            try:
                self.port.apply_settings(pyserial_settings(self.token, self.config))
            except FAILURES:
                pass  # the port is failing as a whole: the first error says why
            raise HalError("serial port %s (%s): cannot apply %r: %s"
                           % (self.token, self.device, config, exc))

    def pollable(self):
        return self.fd

    def read(self, limit):
        try:
            return self.port.read(limit)
        except FAILURES as exc:  # an unplugged USB adapter
            raise HalError("serial port %s (%s): read failed: %s" % (self.token, self.device, exc))

    def write(self, data):
        try:
            if self.fd is not None:
                # pyserial's own write spins forever on EAGAIN when write_timeout is 0 and the
                # driver's buffer is full (pyserial issue 280): write to the descriptor
                # pyserial opened O_NONBLOCK instead.
                return os.write(self.fd, data)
            return self.port.write(data)
        except (BlockingIOError, serial.SerialTimeoutException):
            return 0  # buffer full: the caller keeps the rest for later
        except FAILURES as exc:
            raise HalError("serial port %s (%s): write failed: %s"
                           % (self.token, self.device, exc))

    def close(self):
        self.port.close()
