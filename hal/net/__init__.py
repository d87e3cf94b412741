"""Network backends (issue 8): who owns the device's network configuration.

`open_network` imports only the backend a board uses, so a MicroPython board never imports
the Linux one and the desktop simulator never touches the host's network.
"""


def open_network(board, state_dir):
    """The NetworkBackend of `board`: its "network" field ("sim", "linux" or "machine") when
    given, else by its HAL (the simulator's board gets the simulated network, a MicroPython
    board its `network` module, every other one the Linux host's)."""
    kind = board.get("network")
    if kind is None:
        kind = {"sim": "sim", "machine": "machine"}.get(board["hal"], "linux")
    if kind == "sim":
        from .sim import SimNetwork
        return SimNetwork(board, state_dir)
    if kind == "machine":
        from .machine import MachineNetwork
        return MachineNetwork(board, state_dir)
    from .linux import LinuxNetwork
    return LinuxNetwork(board, state_dir)
