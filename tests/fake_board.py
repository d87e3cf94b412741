"""A fake MicroPython board on a pseudo-terminal, for running the real mpremote (tools/flash) with
no hardware: it answers MicroPython's raw REPL the way the firmware does, and runs the Python that
mpremote sends in CPython, inside a directory standing for the board's filesystem.

    python tests/fake_board.py ROOT     prints the pty's path, then serves until killed

Raw REPL (what mpremote's transport_serial expects): Ctrl-A enters it ("raw REPL; CTRL-B to
exit\\r\\n>"), Ctrl-D on an empty command is a soft reset ("soft reboot\\r\\n" then the banner),
Ctrl-D after a command runs it: "OK", its output, Ctrl-D, its error, Ctrl-D, ">". Raw-paste mode
("\\x05A\\x01") is granted with one window larger than any command mpremote sends, so no flow
control is needed: the command ends with Ctrl-D, acknowledged by Ctrl-D, and is run ("OK"
omitted). Errors are reported as MicroPython words them (`OSError: [Errno 2] ENOENT`), which
mpremote parses. machine.reset() appends a line to ROOT/../resets.
"""

import contextlib
import errno
import io
import os
import pty
import struct
import sys
import time
import traceback
import types

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
PASTE_WINDOW = 0xFFFF  # bytes mpremote may send in raw-paste mode without waiting


def fake_machine(root):
    machine = types.ModuleType("machine")

    def reset():
        with open(os.path.join(root, "..", "resets"), "a") as f:
            f.write("reset\n")
    machine.reset = reset
    return machine


def run(code, namespace):
    """(output, error) of `code`, as the firmware's raw REPL would send them back."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        error = ""
    except OSError as exc:
        error = "Traceback (most recent call last):\r\nOSError: [Errno %d] %s\r\n" % (
            exc.errno, errno.errorcode.get(exc.errno, "EIO"))
    except Exception:  # anything else: its traceback, as a real board prints one
        error = traceback.format_exc()
    return out.getvalue().encode(), error.encode()


def serve(fd, root):
    namespace = {}
    raw, paste, command = False, False, b""
    while True:
        data = os.read(fd, 4096)
        index = 0
        while index < len(data):
            byte = data[index:index + 1]
            index += 1
            if byte == b"\x01":                 # Ctrl-A: (re)enter the raw REPL
                raw, command = True, b""
                os.write(fd, b"\r\n" + BANNER)
            elif not raw or byte == b"\x03":      # friendly REPL input, Ctrl-C: nothing runs
                continue
            elif byte == b"\x02":               # Ctrl-B: back to the friendly REPL
                raw = False
            elif byte == b"\x05":               # raw-paste request ("\x05A\x01")
                index += 2
                paste = True
                os.write(fd, b"R\x01" + struct.pack("<H", PASTE_WINDOW))
            elif byte == b"\x04" and paste:
                os.write(fd, b"\x04")
                output, error = run(command.decode(), namespace)
                paste, command = False, b""
                os.write(fd, output + b"\x04" + error + b"\x04>")
            elif byte == b"\x04" and not command.strip():  # Ctrl-D alone: soft reset
                namespace = {}
                os.write(fd, b"OK\r\nMPY: soft reboot\r\n" + BANNER)
                command = b""
            elif byte == b"\x04":
                os.write(fd, b"OK")
                output, error = run(command.decode(), namespace)
                command = b""
                os.write(fd, output + b"\x04" + error + b"\x04>")
            else:
                command += byte


def main(root):
    os.chdir(root)
    sys.modules["machine"] = fake_machine(root)
    time.sleep_ms = lambda ms: None  # MicroPython's; mpremote's reset calls it
    controller, device = pty.openpty()
    print(os.ttyname(device), flush=True)
    try:
        serve(controller, root)
    except OSError:  # the far end closed for good
        pass


if __name__ == "__main__":
    main(sys.argv[1])
