"""A fake NTP server for the tests (CPython): a UDP socket on loopback answered from a thread,
at the host's time plus `offset_ms`, or as the test's `answer(request)` says."""

import socket
import threading
import time

from tests import ntp_packets


def host_ms():
    return time.time_ns() // 1000000


class FakeNtpServer:
    """`address` is the "host:port" string a client is configured with; `requests` counts what
    arrived. `answer(request)` returns the datagrams to send back (default: `on_time`)."""

    def __init__(self, offset_ms=0, answer=None, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        port = self.sock.getsockname()[1]
        self.address = ("[%s]:%d" if family == socket.AF_INET6 else "%s:%d") % (host, port)
        self.offset_ms = offset_ms
        self.answer = answer or self.on_time
        self.requests = 0
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def on_time(self, request, **fields):
        """A good reply: receive and transmit at the host time plus offset_ms."""
        now = host_ms() + self.offset_ms
        return [ntp_packets.reply(request[40:48], now, now, **fields)]

    def _serve(self):
        while self._running:
            try:
                request, peer = self.sock.recvfrom(512)
            except OSError:  # the time-out polls _running
                continue
            self.requests += 1
            for datagram in self.answer(request):
                self.sock.sendto(datagram, peer)

    def close(self):
        self._running = False
        self._thread.join()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def closed_port():
    """ "127.0.0.1:PORT" where nothing listens (ECONNREFUSED at once)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "127.0.0.1:%d" % port
