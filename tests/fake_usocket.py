"""A fake of MicroPython's `socket` module as the esp32 and rp2 ports have it (lwIP), for UDP.

Portable: passed to agent.discovery_net.DiscoveryService as its `sockets` on CPython and inside
MicroPython's WebAssembly build alike (which has no socket module). Each `Port("esp32")` or
`Port("rp2")` is a fresh module holding exactly the names the port's module table holds
(esp32: ports/esp32/modsocket.c mp_module_socket_globals_table, values from ESP-IDF's lwIP
sockets.h; rp2: extmod/modlwip.c mp_module_lwip_globals_table, MicroPython 1.22-1.27), and
sockets holding exactly the methods `dir()` lists there (micropython#18774: no getsockname,
getpeername, recvmsg; rp2 not even fileno). The quirks kept are those a UDP user meets:
- setsockopt(level, option, value) looks at the option alone; SO_REUSEADDR takes an int,
  IP_ADD_MEMBERSHIP exactly 8 bytes (group, then interface address: ValueError otherwise; rp2's
  1.24.0 wants 40, `Port("rp2", (1, 24, 0))`), and
  any other option only prints "Warning: lwip.setsockopt() option not implemented" (recorded
  in `warnings`, as the firmware prints it, with no exception);
- a datagram sent to a group reaches the socket only once the group is joined (lwIP's IGMP
  filter); rp2's socket holds one unread datagram and drops the next ones (modlwip.c
  _lwip_udp_incoming), esp32's queues them;
- recvfrom on a non-blocking socket with nothing waiting raises OSError(EAGAIN).
Tests play the network: `deliver(data, source, to)`; they see `sent` and each socket's calls.
"""

import errno
import sys

# The module constants of each port (its globals table), with their values there.
_ESP32 = {"AF_INET": 2, "AF_INET6": 10, "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3,
          "IPPROTO_TCP": 6, "IPPROTO_UDP": 17, "IPPROTO_IP": 0, "SOL_SOCKET": 0xfff,
          "SO_REUSEADDR": 0x0004, "SO_BROADCAST": 0x0020, "SO_BINDTODEVICE": 0x100b,
          "IP_ADD_MEMBERSHIP": 3, "TCP_NODELAY": 0x01, "MSG_PEEK": 0x01, "MSG_DONTWAIT": 0x08}
_RP2 = {"AF_INET": 2, "AF_INET6": 10, "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOL_SOCKET": 1,
        "SO_REUSEADDR": 0x04, "SO_BROADCAST": 0x20, "IPPROTO_IP": 0, "IP_ADD_MEMBERSHIP": 0x400,
        "IP_DROP_MEMBERSHIP": 0x401, "IPPROTO_TCP": 6, "TCP_NODELAY": 0x40}
PORTS = {"esp32": _ESP32, "rp2": _RP2}
NOT_IMPLEMENTED = "Warning: lwip.setsockopt() option not implemented"


def install():
    """Let `import socket` (agent.discovery_net's) succeed on a runtime without the module,
    MicroPython's WebAssembly build, with an esp32 one; a real socket module is left alone."""
    try:
        import socket  # noqa: F401 - only whether it exists
    except ImportError:
        sys.modules["socket"] = Port("esp32")


class Port:
    """One port's `socket` module: its constants as attributes, `socket(...)` to make one."""

    def __init__(self, name, version=(1, 27, 0)):
        self.name = name
        self.version = version
        for key, value in PORTS[name].items():
            setattr(self, key, value)
        self.sockets = []   # every socket made, in order
        self.sent = []      # (data, (host, port)) of every sendto, in order
        self.warnings = []  # what the firmware printed

    def membership_size(self):
        """What IP_ADD_MEMBERSHIP takes: sizeof(ip4_addr_t) * 2, but sizeof(ip_addr_t) * 2 with
        IPv6 on (40) in rp2's 1.24.0 (micropython#16100, fixed by #16121)."""
        return 40 if (self.name, self.version) == ("rp2", (1, 24, 0)) else 8

    def socket(self, af=2, kind=1, proto=0):
        sock = (Esp32Socket if self.name == "esp32" else Rp2Socket)(self, af, kind)
        self.sockets.append(sock)
        return sock

    def deliver(self, data, source, to):
        """A datagram from `source` (host, port) to `to` (host, port) reaches the board."""
        for sock in self.sockets:
            if sock.open and sock.bound is not None and sock.bound[1] == to[1] and (
                    not _is_multicast(to[0]) or to[0] in sock.joined_groups()):
                sock.arrive(data, source)


def _is_multicast(host):
    return 224 <= int(host.split(".")[0]) <= 239  # 224.0.0.0/4


class _Socket:
    def __init__(self, module, af, kind):
        self.module = module
        self.af = af
        self.kind = kind
        self.open = True
        self.blocking = True
        self.bound = None
        self.options = []  # (level, option, value) of every setsockopt, in order
        self.joined = []   # (group, interface) of every IP_ADD_MEMBERSHIP
        self.inbox = []

    def joined_groups(self):
        return [group for group, _ in self.joined]

    def setsockopt(self, level, option, value):
        _check_open(self)
        if not isinstance(level, int) or not isinstance(option, int):
            raise TypeError("can't convert to int")
        self.options.append((level, option, value))
        if option == self.module.SO_REUSEADDR:
            if not isinstance(value, int):
                raise TypeError("can't convert %s to int" % type(value).__name__)
        elif option == self.module.IP_ADD_MEMBERSHIP:
            if len(bytes(value)) != self.module.membership_size():
                raise ValueError()
            self.joined.append((_dotted(value[0:4]), _dotted(value[4:8])))
        else:
            self.module.warnings.append(NOT_IMPLEMENTED)

    def bind(self, address):
        _check_open(self)
        self.bound = tuple(address)

    def setblocking(self, flag):
        self.blocking = bool(flag)

    def settimeout(self, value):
        self.blocking = value is None or value > 0

    def sendto(self, data, address):
        _check_open(self)
        host, number = address
        if len(host.split(".")) != 4 or not isinstance(number, int):
            raise OSError(errno.EINVAL)
        self.module.sent.append((bytes(data), (host, number)))
        return len(data)

    def arrive(self, data, source):
        self.inbox.append((bytes(data), source))

    def recvfrom(self, size):
        _check_open(self)
        if not self.inbox:
            if self.blocking:
                raise AssertionError("a blocking recvfrom with nothing to read hangs the board")
            raise OSError(errno.EAGAIN)
        data, source = self.inbox.pop(0)
        return data[:size], source

    def close(self):
        self.open = False

    # Present on the real socket, unused by UDP here: kept so dir() matches.
    def connect(self, address):
        raise AssertionError("connect() is not expected on the discovery socket")

    def send(self, data):
        raise AssertionError("send() is not expected on the discovery socket")

    def sendall(self, data):
        raise AssertionError("sendall() is not expected on the discovery socket")

    def recv(self, size):
        raise AssertionError("recv() is not expected on the discovery socket")

    def listen(self, backlog=None):
        raise AssertionError("listen() is not expected on a UDP socket")

    def accept(self):
        raise AssertionError("accept() is not expected on a UDP socket")

    def makefile(self, *args):
        return self


class Esp32Socket(_Socket):
    """ports/esp32/modsocket.c: a queue of datagrams (lwIP's socket API) and a file number."""

    def fileno(self):
        return 54 + self.module.sockets.index(self)  # LWIP_SOCKET_OFFSET-like numbers


class Rp2Socket(_Socket):
    """extmod/modlwip.c: one pending datagram at most, the next ones dropped until it is read;
    no fileno()."""

    def arrive(self, data, source):
        if not self.inbox:
            _Socket.arrive(self, data, source)


def _check_open(sock):
    if not sock.open:
        raise OSError(errno.EBADF)


def _dotted(packed):
    packed = bytes(packed)
    if len(packed) != 4:
        raise ValueError("not 4 bytes")
    return ".".join(str(b) for b in packed)
