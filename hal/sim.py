"""The desktop simulator ("sim"): relays and inputs in memory, serial ports on pseudo-terminals,
and a control socket that drives the inputs while the agent runs.

CPython-only (pty, termios, Unix sockets): it is the desktop board's HAL and is imported only
when a board file names "sim". Nothing here blocks the agent's loop: the pty master and the
control socket are non-blocking and served by loop handlers.

The simulator supports everything the interface offers, so `unsupported` lists nothing; the one
thing it cannot do is make a baud rate mean anything: a pty moves bytes at memory speed.
"""

import errno
import os
import socket
import sys
import termios
import tty

from agent import log
from agent.errors import ConfigError
from agent.loop import POLLIN, POLLOUT
from hal.base import DigitalInput, Hal, HalError, RelayOutput, SerialPort, assemble

SOCKET_NAME = "sim.sock"
MAX_LINE = 256        # bytes of one command line, newline excluded
MAX_CLIENTS = 4       # control connections served at once
MAX_BACKLOG = 4096    # reply bytes a client may leave unread before it is dropped
CONTACT_WORDS = {"closed": True, "open": False}
COMMANDS = "input TOKEN closed|open, state"

# Linux's value (pyserial uses the same): Python's termios leaves CMSPAR out.
CMSPAR = getattr(termios, "CMSPAR", 0o10000000000)
PARITY_FLAGS = {
    "None": 0,
    "Even": termios.PARENB,
    "Odd": termios.PARENB | termios.PARODD,
    "Mark": termios.PARENB | termios.PARODD | CMSPAR,
    "Space": termios.PARENB | CMSPAR,
}
PARITY_MASK = termios.PARENB | termios.PARODD | CMSPAR


class SimRelay(RelayOutput):
    """A relay whose coil is one boolean, `energized`, that tests and the control socket read."""

    def __init__(self, spec):
        super().__init__(spec)
        self.energized = False

    def energize(self, on):
        self.energized = on

    def contact_closed(self):
        """The contact as wired now (an NC relay's contact is closed before any command)."""
        return self.energized != self.normally_closed


class SimInput(DigitalInput):
    """An input contact held in memory, open at start; `set()` moves it like a real switch
    would, so the change still goes through the base class's software debounce."""

    def __init__(self, spec, loop):
        super().__init__(spec, loop)
        self.closed = False

    def read(self):
        return self.closed

    def set(self, closed):
        self.closed = closed
        self.edge()


class PtySerialPort(SerialPort):
    """A serial port on a pseudo-terminal: the agent keeps the master end, `path` is the slave
    for an RS-485 simulator (a pymodbus RTU server) or a terminal to attach to.

    The slave is raw, so bytes pass unchanged. The line settings are stored on the slave with
    termios for the attached tool to see, but a pty transfers at memory speed whatever the baud
    rate, and Linux keeps only the baud rate and stop bits (it forces 8 bits, no parity).
    The simulator keeps its own slave descriptor open so that the master never reads EIO or
    hangs up when the attached tool disconnects.
    """

    def __init__(self, spec):
        super().__init__(spec)
        if spec.get("device") != "pty":
            raise ConfigError('sim serial port %s: "device" must be "pty", not %r'
                              % (self.token, spec.get("device")))
        self.master_fd, self.slave_fd = os.openpty()
        try:
            os.set_blocking(self.master_fd, False)
            tty.setraw(self.slave_fd)
            self.path = os.ttyname(self.slave_fd)
            self.apply(self.config)
        except Exception:
            self.close()
            raise

    def apply(self, config):
        speed = getattr(termios, "B%d" % config["baud_rate"], None)
        size = getattr(termios, "CS%d" % config["character_length"], None)
        if speed is None or size is None:
            raise HalError("serial port %s: termios has no setting for %d baud, %d bits"
                           % (self.token, config["baud_rate"], config["character_length"]))
        iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(self.slave_fd)
        cflag &= ~(termios.CSIZE | termios.CSTOPB | PARITY_MASK)
        cflag |= size | PARITY_FLAGS[config["parity"]]
        if config["stop_bits"] > 1:
            cflag |= termios.CSTOPB  # 1.5 and 2 stop bits share the flag, as in pyserial
        try:
            termios.tcsetattr(self.slave_fd, termios.TCSANOW,
                              [iflag, oflag, cflag, lflag, speed, speed, cc])
        except termios.error as exc:
            raise HalError("serial port %s: %s" % (self.token, exc))

    def pollable(self):
        return self.master_fd

    def read(self, limit):
        try:
            return os.read(self.master_fd, limit)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""  # no slave open: nothing can have arrived
            raise HalError("serial port %s: %s" % (self.token, exc))

    def write(self, data):
        try:
            return os.write(self.master_fd, data)
        except BlockingIOError:
            return 0  # the slave's queue is full: nobody has read for a while
        except OSError as exc:
            raise HalError("serial port %s: %s" % (self.token, exc))

    def close(self):
        # Idempotent: a descriptor number closed twice could be someone else's by then.
        for name in ("master_fd", "slave_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)


class ControlServer:
    """`<state_dir>/sim.sock`: a line-based Unix socket to drive the inputs from outside.

    One command per newline-terminated line, one reply line each:
    `input TOKEN closed|open` -> `ok`; `state` -> `IN1=open ... R1=closed ...` (contacts);
    anything else -> `error: <why>`. An overlong line gets an error and the connection closed.
    """

    def __init__(self, hal, path):
        self.hal = hal
        self.path = path
        self.sock = None
        self.clients = []

    def start(self):
        """Listen; raises OSError (path too long for AF_UNIX, unwritable folder)."""
        try:
            os.remove(self.path)  # left by an agent that did not stop cleanly
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.path)
            # Owner only, set before listen(): nobody can connect while the mode is wider.
            os.chmod(self.path, 0o600)
            sock.listen(MAX_CLIENTS)
            sock.setblocking(False)
        except OSError:
            sock.close()
            self._remove_file()
            raise
        self.sock = sock
        self.hal.loop.register(sock, POLLIN, self._accept)

    def _accept(self, events):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return  # the caller gave up in between
        conn.setblocking(False)
        if len(self.clients) >= MAX_CLIENTS:
            try:
                conn.send(b"error: too many clients\n")
            except OSError:
                pass
            conn.close()
            return
        client = ControlClient(self, conn)
        self.clients.append(client)
        self.hal.loop.register(conn, POLLIN, client.on_ready)

    def execute(self, line):
        """The reply (without newline) to one command line."""
        words = line.decode("utf-8", "replace").split()
        if not words:
            return "error: empty line (commands: %s)" % COMMANDS
        if words == ["state"]:
            return self.hal.state_line()
        if words[:1] != ["input"]:
            return "error: unknown command %r (commands: %s)" % (" ".join(words), COMMANDS)
        if len(words) != 3:
            return "error: usage: input TOKEN closed|open"
        token, word = words[1], words[2]
        contact = self.hal.input_named(token)
        if contact is None:
            return "error: unknown input %r (inputs: %s)" % (
                token, ", ".join(i.token for i in self.hal.inputs) or "none")
        if word not in CONTACT_WORDS:
            return "error: %r is neither closed nor open" % word
        log.debug("sim: input %s %s", token, word)
        contact.set(CONTACT_WORDS[word])
        return "ok"

    def forget(self, client):
        self.hal.loop.unregister(client.sock)
        self.clients.remove(client)

    def close(self):
        for client in list(self.clients):
            client.close()
        if self.sock is not None:
            self.hal.loop.unregister(self.sock)
            self.sock.close()
            self.sock = None
            self._remove_file()

    def _remove_file(self):
        try:
            os.remove(self.path)
        except OSError:
            pass


class ControlClient:
    """One control connection: bytes in, lines out, replies queued while the peer is slow."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.pending = b""   # an unfinished line
        self.replies = b""   # reply bytes not yet taken by the socket
        self.open = True

    def on_ready(self, events):
        if events & POLLOUT:
            self._flush()
        if self.open and events & ~POLLOUT:
            self._receive()

    def _receive(self):
        try:
            data = self.sock.recv(2 * MAX_LINE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self.pending += data
        while self.open:
            line, newline, rest = self.pending.partition(b"\n")
            if len(line) > MAX_LINE:
                self._refuse("line longer than %d bytes" % MAX_LINE)
                return
            if not newline:
                return
            self.pending = rest
            self._reply(self.server.execute(line))

    def _reply(self, text):
        self.replies += text.encode() + b"\n"
        if len(self.replies) > MAX_BACKLOG:
            self.close()  # sends commands but never reads the answers
            return
        self._flush()

    def _refuse(self, why):
        self._reply("error: " + why)
        self.close()

    def _flush(self):
        try:
            sent = self.sock.send(self.replies)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        self.replies = self.replies[sent:]
        self.server.hal.loop.modify(self.sock, POLLIN | POLLOUT if self.replies else POLLIN)

    def close(self):
        if self.open:
            self.open = False
            self.server.forget(self)
            self.sock.close()


class SimHal(Hal):
    """The desktop board: every relay, input and pty serial port the board file lists, and,
    given a state folder, the control socket in it (`control_path`, None when off)."""

    name = "sim"

    def __init__(self, board, loop, state_dir=None):
        super().__init__(board, loop)
        self.control = None
        self.control_path = state_dir + "/" + SOCKET_NAME if state_dir else None
        assemble(self, _add_parts)  # a failure closes the ptys opened so far

    def start(self):
        super().start()
        if self.control_path is None:
            return
        control = ControlServer(self, self.control_path)
        try:
            control.start()
        except OSError as exc:
            log.warning("sim control socket off: cannot listen on %s: %s",
                        self.control_path, exc)
            self.control_path = None
            return
        self.control = control

    def input_named(self, token):
        for line in self.inputs:
            if line.token == token:
                return line
        return None

    def state_line(self):
        """Every contact, e.g. `IN1=open IN2=closed R1=open R2=closed`."""
        words = ["%s=%s" % (line.token, _word(line.read())) for line in self.inputs]
        words += ["%s=%s" % (relay.token, _word(relay.contact_closed())) for relay in self.relays]
        return " ".join(words)

    def close(self):
        if self.control is not None:
            self.control.close()
            self.control = None
        super().close()


def _add_parts(hal):
    board = hal.board
    hal.relays = [SimRelay(spec) for spec in board.get("relays", [])]
    hal.inputs = [SimInput(spec, hal.loop) for spec in board.get("inputs", [])]
    for spec in board.get("serial_ports", []):
        hal.serial_ports.append(PtySerialPort(spec))


def _word(closed):
    return "closed" if closed else "open"


def create(board, loop, state_dir=None):
    return SimHal(board, loop, state_dir)


# -- the `onvif-agent sim ...` client ----------------------------------------------------------

CONTROL_USAGE = """usage: onvif-agent sim input TOKEN closed|open [--state-dir DIR]
       onvif-agent sim state [--state-dir DIR]

Drive the desktop simulator of a running agent through STATE-DIR/sim.sock: close or open an
input contact, or print every input and relay contact. --state-dir is the agent's (same
default as `onvif-agent`)."""

REPLY_TIMEOUT_S = 5


def control_main(argv):
    """`onvif-agent sim ...`: 0 when the agent did it, 1 when it refused (the reply says why),
    2 when the arguments are bad or no agent is listening."""
    try:
        command, state_dir = parse_control_args(argv)
    except ConfigError as exc:
        sys.stderr.write("onvif-agent sim: error: %s\n" % exc)
        return 2
    if command is None:
        print(CONTROL_USAGE)
        return 0
    path = state_dir + "/" + SOCKET_NAME
    try:
        reply = request(path, command)
    except (FileNotFoundError, ConnectionRefusedError):
        sys.stderr.write("onvif-agent sim: error: no agent is running with state dir %s "
                         "(nothing listens on %s)\n" % (state_dir, path))
        return 2
    except OSError as exc:
        sys.stderr.write("onvif-agent sim: error: cannot talk to the agent on %s: %s\n"
                         % (path, exc))
        return 2
    print(reply)
    return 1 if reply.startswith("error:") else 0


def parse_control_args(argv):
    """(command line to send, state dir); (None, None) for --help; ConfigError when bad."""
    words, state_dir = [], None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            return None, None
        name, eq, value = arg.partition("=")
        if name == "--state-dir":
            if not eq:
                if not args:
                    raise ConfigError("--state-dir needs a value")
                value = args.pop(0)
            state_dir = value
        elif arg.startswith("-"):
            raise ConfigError("unknown option %r" % arg)
        else:
            words.append(arg)
    if words != ["state"] and (words[:1] != ["input"] or len(words) != 3):
        raise ConfigError("expected `input TOKEN closed|open` or `state`, not %r"
                          % " ".join(words))
    if state_dir is None:
        # The CLI's own default, looked up only here: the HAL itself never needs agent.cli.
        from agent.cli import default_state_dir
        state_dir = default_state_dir()
    return " ".join(words), state_dir


def request(path, command):
    """Send one command line to the control socket at `path`; the reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(REPLY_TIMEOUT_S)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(1024)
            if not chunk:
                raise ConnectionError("the agent closed the connection without a reply")
            reply += chunk
    return reply.decode("utf-8", "replace").rstrip("\n")
