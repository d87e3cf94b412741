"""onvif-agent: an IEC 60839-11-31 (ONVIF Core + DeviceIO) device agent.

Every module in this package runs on CPython 3.11+ and MicroPython 1.22+. Runtime differences
live only in `agent.compat`; the protocol core is sans-IO and the loop in `agent.loop` is the
only owner of sockets and timers.
"""

__version__ = "0.1.0"
