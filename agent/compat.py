"""Every difference between CPython and MicroPython, feature-detected in one place.

Nothing else in `agent/` may import a module outside the common subset measured in
shared/design/micropython-subset.md; this module may, because it only ever tries and falls back.
"""

import errno
import os
import re
import sys
import time

try:  # MicroPython
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:  # CPython: a monotonic clock with the same API
    _TICKS_PERIOD = 1 << 30

    def ticks_ms():
        return int(time.monotonic() * 1000) & (_TICKS_PERIOD - 1)

    def ticks_add(ticks, delta):
        return (ticks + delta) & (_TICKS_PERIOD - 1)

    def ticks_diff(a, b):
        half = _TICKS_PERIOD >> 1
        return ((a - b + half) & (_TICKS_PERIOD - 1)) - half


# monotonic_ms(): a non-wrapping monotonic millisecond clock for timers (ticks wrap on
# MicroPython).
try:
    _monotonic = time.monotonic

    def monotonic_ms():
        return int(_monotonic() * 1000)
except AttributeError:  # MicroPython: extend ticks_ms into a non-wrapping count
    _mono_base = [0, ticks_ms()]

    def monotonic_ms():
        now = ticks_ms()
        _mono_base[0] += ticks_diff(now, _mono_base[1])
        _mono_base[1] = now
        return _mono_base[0]


def utc_seconds():
    """Seconds since the Unix epoch, UTC (MicroPython ports may use the 2000 epoch)."""
    return int(time.time()) + _EPOCH_OFFSET


# MicroPython ports with a 2000-01-01 epoch report gmtime(0)[0] == 2000.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


if hasattr(time, "time_ns"):
    def utc_ms():
        """Milliseconds since the Unix epoch, UTC, as an int: the device clock's sub-second
        reads (NTP) without floats, which are single precision on many boards."""
        return time.time_ns() // 1000000 + _EPOCH_OFFSET * 1000
else:  # a port without time_ns: whole seconds
    def utc_ms():
        """Milliseconds since the Unix epoch, UTC, counted in whole seconds on this port."""
        return utc_seconds() * 1000


def gmtime(seconds):
    """UTC broken-down time of a Unix timestamp on either runtime's epoch."""
    return time.gmtime(seconds - _EPOCH_OFFSET)


def local_address(sock, default):
    """`sock.getsockname()`, or `default` where the runtime cannot tell: MicroPython's esp32
    and rp2 sockets have no getsockname (nor getpeername), so a board passes what it bound."""
    getsockname = getattr(sock, "getsockname", None)
    return default if getsockname is None else getsockname()


def rtc_setter():
    """A function setting the board's real-time clock to Unix UTC seconds, or None where the
    agent must leave the clock alone (CPython: the host's clock belongs to its operating
    system, and setting it needs root)."""
    try:
        import machine
    except ImportError:
        return None
    rtc = machine.RTC()

    def set_rtc(seconds):
        t = gmtime(seconds)  # (year, month, day, hour, minute, second, weekday, yearday)
        rtc.datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))
    return set_rtc


def firmware_network():
    """A MicroPython board's `network` module (its Wi-Fi station, agent.boot), or None on a
    runtime without one (CPython, the WebAssembly port)."""
    try:
        import network
    except ImportError:
        return None
    return network


try:
    from sys import print_exception  # MicroPython
except ImportError:
    import traceback

    def print_exception(exc, file=None):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)


try:
    urandom = os.urandom
except AttributeError:  # MicroPython: os.urandom is missing in some ports
    try:
        from random import getrandbits as _getrandbits
    except ImportError:  # pragma: no cover - every port we target has it
        _getrandbits = None

    def urandom(n):
        return bytes(_getrandbits(8) for _ in range(n))


def fsync(fileobj):
    """Push a written file to storage where the runtime can (power-loss safety)."""
    fileobj.flush()
    sync = getattr(os, "fsync", None)
    if sync is not None:
        sync(fileobj.fileno())


def replace(src, dst):
    """Atomically move src over dst (os.rename overwrites on both runtimes' POSIX ports)."""
    if hasattr(os, "replace"):
        os.replace(src, dst)
    else:
        os.rename(src, dst)


def write_atomic(path, data, mode=None):
    """Write bytes to `path` so a power cut leaves the old or the new file, never half of one.

    `mode` (e.g. 0o600 for secrets) sets the permission bits from the file's creation on, so it
    is never readable by others even for a moment; runtimes without permissions ignore it.
    """
    tmp = path + ".tmp"
    with _create(tmp, mode) as f:
        f.write(data)
        fsync(f)
    replace(tmp, path)


def _create(path, mode):
    if mode is None or not hasattr(os, "O_EXCL"):  # MicroPython: no os.open, no permissions
        return open(path, "wb")
    try:
        os.remove(path)  # a leftover file would keep its own mode under O_CREAT
    except OSError:
        pass
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb")


# errno values that mean "try again later" on a non-blocking socket.
WOULD_BLOCK = (errno.EAGAIN, getattr(errno, "EWOULDBLOCK", errno.EAGAIN))
IN_PROGRESS = (errno.EINPROGRESS, getattr(errno, "EALREADY", errno.EINPROGRESS))


try:
    import _thread

    def start_thread(function):
        """Run `function()` in a new thread: it must not keep the process alive, nor touch agent
        state (it hands results to the loop with call_soon_threadsafe)."""
        _thread.start_new_thread(function, ())
except ImportError:  # a runtime without threads
    start_thread = None


def socketpair():
    """A connected pair of sockets to wake the loop from another thread, or None."""
    try:
        import socket
        return socket.socketpair()
    except (ImportError, AttributeError, OSError):
        return None


def getenv(name, default=None):
    """An environment variable; MicroPython ports without an environment give the default."""
    getter = getattr(os, "getenv", None)
    return getter(name, default) if getter is not None else default


def is_root():
    getuid = getattr(os, "getuid", None)
    return getuid is not None and getuid() == 0


def makedirs(path):
    """mkdir -p (MicroPython's os has no makedirs)."""
    if hasattr(os, "makedirs"):
        os.makedirs(path, exist_ok=True)
        return
    current = "/" if path.startswith("/") else ""  # never "//x": board VFS mounts miss it
    for part in path.split("/"):
        if part:
            current += part
            try:
                os.mkdir(current)
            except OSError:
                # Test by stat, not errno: the WebAssembly port raises WASI numbers (EEXIST is 20).
                if not os.stat(current)[0] & 0x4000:  # S_IFDIR
                    raise
            current += "/"


def on_terminate(callback):
    """Call `callback()` on SIGINT and SIGTERM where the runtime has signals."""
    try:
        import signal
    except ImportError:
        return
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), lambda signum, frame: callback())


def cpu_times(path="/proc/stat"):
    """(busy, total) jiffies of all CPUs since boot, from Linux's /proc/stat, or None where
    there is no such file (MicroPython boards): the ProcessorUsage event is then absent.
    Idle and I/O wait are not busy; guest time is already inside user and nice."""
    try:
        with open(path) as f:
            line = f.readline()
        fields = line.split()
        if fields[0] != "cpu" or len(fields) < 6:
            return None
        times = [int(value) for value in fields[1:9]]  # user ... steal
    except (OSError, ValueError, IndexError):
        return None
    total = sum(times)
    return total - times[3] - times[4], total


def hostname():
    """The operating system's host name, or "" where there is none to ask."""
    try:
        import socket
        return socket.gethostname()
    except (ImportError, AttributeError, OSError):
        return ""


def interface_addresses():
    """IPv4 addresses of the host's interfaces, loopback last.

    Linux answers SIOCGIFADDR with modules CPython has loaded anyway; elsewhere ifaddr is
    asked, whose ctypes costs ~4 MB of resident memory (README figures).
    """
    found = _ioctl_addresses()
    if found is None:
        found = []
        for address, _ in _ifaddr_addresses(str):  # ifaddr gives IPv4 addresses as str
            if address not in found:
                found.append(address)
    found.sort(key=lambda a: a.startswith("127."))
    return found or ["127.0.0.1"]


def interface_addresses6():
    """(IPv6 address, interface name) of every usable address of the host, loopback last; []
    where the host has no IPv6.

    Linux lists them in /proc/net/if_inet6 (a text file: no ctypes); elsewhere ifaddr is asked.
    Addresses still in duplicate address detection, or that failed it, cannot be used yet and
    are left out (the re-check every few seconds finds them later).
    """
    try:
        with open("/proc/net/if_inet6") as table:
            found = parse_if_inet6(table.read())
    except (ImportError, AttributeError, OSError, ValueError):
        found = [(ip[0], name) for ip, name in _ifaddr_addresses(tuple)]  # (ip, flow, scope)
    found.sort(key=lambda pair: pair[0] == "::1")
    return found


# /proc/net/if_inet6 flags (linux/if_addr.h) of an address no packet can use yet.
_IFA_F_DADFAILED = 0x08
_IFA_F_TENTATIVE = 0x40


def parse_if_inet6(text):
    """(address, interface name) pairs of /proc/net/if_inet6's usable lines: 32 hex digits of
    address, interface index, prefix length, scope, flags, name (all hex but the name)."""
    import socket
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6 or int(fields[4], 16) & (_IFA_F_DADFAILED | _IFA_F_TENTATIVE):
            continue
        address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[0]))
        found.append((address, fields[5]))
    return found


def _ioctl_addresses():
    """The primary IPv4 address of each interface, or None where SIOCGIFADDR is unavailable."""
    try:
        import fcntl
        import socket
        import struct
        names = socket.if_nameindex()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except (ImportError, AttributeError, OSError):
        return None
    found = []
    with probe:
        for _, name in names:
            try:
                request = struct.pack("256s", name.encode()[:15])
                reply = fcntl.ioctl(probe.fileno(), 0x8915, request)  # SIOCGIFADDR
            except OSError:
                continue  # an interface without IPv4
            address = socket.inet_ntoa(reply[20:24])
            if address not in found:
                found.append(address)
    return found


def _ifaddr_addresses(kind):
    """(address, interface name) from ifaddr of one family (ifaddr gives IPv4 addresses as str,
    IPv6 ones as tuples); none where ifaddr is missing."""
    try:
        import ifaddr
    except ImportError:
        return []
    return [(ip.ip, adapter.name) for adapter in ifaddr.get_adapters() for ip in adapter.ips
            if isinstance(ip.ip, kind)]


# XML 1.0 [2] Char excludes these control bytes. CPython deletes them with bytes.translate() in a
# fraction of a regex search's time; MicroPython lacks translate() and its patterns are C strings
# (no NUL), so there NUL is looked for separately.
_CTRL_BYTES = bytes(range(9)) + b"\x0b\x0c" + bytes(range(14, 32))
if hasattr(b"", "translate"):
    def has_control_bytes(run):
        """True if `run` holds a control byte XML 1.0 forbids."""
        return len(run.translate(None, _CTRL_BYTES)) != len(run)
else:
    _CTRL = re.compile(b"[\x01-\x08\x0b\x0c\x0e-\x1f]")

    def has_control_bytes(run):
        """True if `run` holds a control byte XML 1.0 forbids."""
        return b"\x00" in run or _CTRL.search(run) is not None


# Hashes (checklist 5.4): hashlib's C code where the runtime has the algorithm, else agent/purehash
# (MicroPython's hashlib offers only sha256, some boards nothing; FIPS-mode CPython refuses md5).
# purehash is imported on first use, so a runtime that never falls back never loads it.
def _hash_function(name):
    try:
        import hashlib
        constructor = getattr(hashlib, name)
        constructor(b"")
    except (ImportError, AttributeError, ValueError):
        def pure(data):
            from agent import purehash
            return getattr(purehash, name)(data)
        return pure
    return lambda data: constructor(data).digest()


# Resolved on first use: importing hashlib costs CPython ~4 MB of resident memory, which an
# agent that never sees an authenticated request need not pay (README figures).
_hashes = {}


def _hash(name, data):
    function = _hashes.get(name)
    if function is None:
        function = _hashes[name] = _hash_function(name)
    return function(data)


def md5(data):
    """MD5 digest bytes of `data` (RFC 1321)."""
    return _hash("md5", data)


def sha1(data):
    """SHA-1 digest bytes of `data` (FIPS 180-4)."""
    return _hash("sha1", data)


def sha256(data):
    """SHA-256 digest bytes of `data` (FIPS 180-4)."""
    return _hash("sha256", data)


def hmac_sha256(key, msg):
    """HMAC-SHA-256 of `msg` under `key` (RFC 2104; MicroPython has no hmac module)."""
    if len(key) > 64:  # RFC 2104 section 2: keys longer than the block size are hashed first
        key = sha256(key)
    key = int.from_bytes(bytes(key) + b"\x00" * (64 - len(key)), "big")
    inner = sha256((key ^ _IPAD).to_bytes(64, "big") + msg)
    return sha256((key ^ _OPAD).to_bytes(64, "big") + inner)


# RFC 2104 pads, as integers so the key is XORed in one operation rather than byte by byte.
_IPAD = int.from_bytes(b"\x36" * 64, "big")
_OPAD = int.from_bytes(b"\x5c" * 64, "big")


def compare_digest(a, b):
    """True if `a` == `b`, in time that does not depend on where they differ (str or bytes)."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    if len(a) != len(b):
        b = a  # still walk `a`, so a length mismatch takes as long as a content mismatch
        result = 1
    else:
        result = 0
    for x, y in zip(a, b):
        result |= x ^ y
    return result == 0


def random_below(n):
    """A random int in [0, n), for protocol jitter (WS-Discovery reply delays)."""
    return int.from_bytes(urandom(4), "big") % n


def restart_process(argv):
    """Start the agent afresh in this process (SystemReboot, factory default, restore: checklist
    8.4 #8, #13): CPython replaces its image with `python -m agent ARGV` (same PID, listening
    sockets are not inherited); a MicroPython board resets, which runs its boot script again."""
    execv = getattr(os, "execv", None)
    if execv is None:
        try:
            import machine
        except ImportError:  # the WebAssembly port: no board to reset
            raise OSError("this runtime cannot restart itself")
        machine.reset()
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    execv(sys.executable, [sys.executable, "-m", "agent"] + list(argv))


# A board keeps the code of every module it imported in its RAM: the cold operation groups
# (agent.services.Service.cold) are let go again after each use there, not on CPython.
FORGET_COLD = sys.implementation.name == "micropython"


def load_cold(name, forget=FORGET_COLD):
    """Module `name`, imported. With `forget`, it and every module its import brought in are
    dropped from sys.modules and their packages at once: the caller's reference keeps them
    alive for as long as it is used, then the collector reclaims their code (issue 9)."""
    if not forget:
        __import__(name)
        return sys.modules[name]
    before = set(sys.modules)
    __import__(name)
    module = sys.modules[name]
    for loaded in [key for key in sys.modules if key not in before]:
        del sys.modules[loaded]
        package, _, leaf = loaded.rpartition(".")
        if package in sys.modules:
            sys.modules[package].__dict__.pop(leaf, None)
    return module
