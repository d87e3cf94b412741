"""Hardware abstraction: one module per hardware family behind hal.base's small interface.

A board file's "hal" names the module; `open_hal` imports only that one, so a Raspberry Pi
never imports gpiod and a MicroPython board never imports pyserial.
"""

# "hal" value of a board file -> module of this package.
HALS = {
    "sim": "sim",               # desktop simulator (the default board)
    "pi": "pi",                 # Raspberry Pi, gpiozero
    "beaglebone": "beaglebone",  # Linux GPIO character device, gpiod
    "usbrelay": "usbrelay",     # CH340-style USB relay boards, pyserial
    "machine": "micropython",   # MicroPython machine.Pin / machine.UART
}


def open_hal(board, loop, state_dir=None):
    """The `Hal` for `board` (already checked by agent.board), built on `loop`."""
    module = HALS[board["hal"]]
    package = __import__("hal." + module)
    return getattr(package, module).create(board, loop, state_dir)
