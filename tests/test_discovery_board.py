"""WS-Discovery on a board's socket module (issue 9, checklist 7): agent.discovery_net's
DiscoveryService over tests/fake_usocket.py, the API MicroPython's esp32 and rp2 ports really
have (no inet_aton, IP_MULTICAST_IF/TTL, recvmsg, getsockname), on both runtimes."""

import unittest

from tests import fake_usocket

fake_usocket.install()  # before agent.discovery_net imports socket

from agent import log
from agent.discovery import D, MULTICAST_UDP_REPEAT, UNICAST_UDP_REPEAT, WSADIS
from agent.discovery_net import RECHECK_MS, DiscoveryService
from agent.loop import Timer
from agent.soap import SOAP12
from agent.xmltree import parse
from tests.support import Lines, Quiet
from tests.test_discovery import body_of, header_text, make, probe

BOARD = "192.168.4.20"          # the Wi-Fi station's ifconfig() address (tests/fake_network.py)
CLIENT = ("192.168.4.7", 50123)  # an ONVIF client probing from the same network
GROUP = ("239.255.255.250", 3702)


class FakeLoop:
    """What DiscoveryService uses of agent.loop.Loop: registrations and timers run on demand."""

    def __init__(self):
        self.handlers = {}
        self.timers = []
        self.now = 0

    def register(self, obj, events, handler):
        self.handlers[obj] = handler

    def unregister(self, obj):
        self.handlers.pop(obj, None)

    def call_later(self, delay_ms, callback):
        timer = Timer(self.now + delay_ms, callback)
        self.timers.append(timer)
        return timer

    def readable(self, obj):
        self.handlers[obj](1)

    def run(self, until_ms):
        """Run every timer due by `until_ms` from now, in deadline order."""
        end = self.now + until_ms
        while True:
            due = [t for t in self.timers if t.deadline <= end and not t.cancelled]
            if not due:
                break
            timer = min(due, key=lambda t: t.deadline)
            self.timers.remove(timer)
            self.now = timer.deadline
            timer.callback()
        self.now = end


class Scopes:
    mode = "Discoverable"

    def __init__(self):
        self.on_change = []


def xaddrs(hosts):
    return ["http://%s:80/onvif/device_service" % host for host in hosts]


class BoardDiscovery:
    """The checks, run against one port's socket module (subclasses name it)."""

    port = None

    def setUp(self):
        log.set_stream(Quiet())
        self.served = [BOARD]
        self.start_service(fake_usocket.Port(self.port))
        self.sock = self.sockets.sockets[0]

    def start_service(self, sockets):
        self.sockets = sockets
        self.loop = FakeLoop()
        self.service = DiscoveryService(self.loop, make(xaddrs=xaddrs), Scopes(),
                                        rand=lambda n: 0, addresses=lambda: self.served,
                                        sockets=self.sockets)
        self.service.start()

    def tearDown(self):
        self.service.stop()
        log.set_stream(None)

    def sent(self, action):
        """(destination, parsed envelope) of each datagram sent with `action`."""
        found = []
        for data, destination in self.sockets.sent:
            root = parse(data)
            if header_text(root, "Action") == D + "/" + action:
                found.append((destination, root))
        return found

    def test_it_listens_on_the_port_and_joins_the_group_on_the_board_address(self):
        self.assertEqual(len(self.sockets.sockets), 1)  # no probe socket: no routing table
        self.assertEqual(self.sock.bound, ("0.0.0.0", 3702))
        self.assertFalse(self.sock.blocking)
        self.assertEqual(self.sock.options, [
            (self.sockets.SOL_SOCKET, self.sockets.SO_REUSEADDR, 1),
            (self.sockets.IPPROTO_IP, self.sockets.IP_ADD_MEMBERSHIP,
             bytes([239, 255, 255, 250, 192, 168, 4, 20]))])
        self.assertEqual(self.sock.joined, [("239.255.255.250", BOARD)])
        self.assertEqual(self.sockets.warnings, [])
        self.assertTrue(self.sock in self.loop.handlers)

    def test_hello_goes_to_the_group_naming_the_board(self):
        self.loop.run(1000)
        hellos = self.sent("Hello")
        self.assertEqual(len(hellos), 1 + MULTICAST_UDP_REPEAT)  # SOAP-over-UDP repeats
        for destination, root in hellos:
            self.assertEqual(destination, GROUP)
            self.assertEqual(body_of(root).findtext(D, "XAddrs"),
                             "http://%s:80/onvif/device_service" % BOARD)

    def test_a_probe_is_answered_to_its_sender_with_the_board_address(self):
        self.loop.run(1000)
        self.sockets.deliver(probe(), CLIENT, GROUP)
        self.loop.readable(self.sock)
        self.loop.run(1000)
        matches = self.sent("ProbeMatches")
        self.assertEqual(len(matches), 1 + UNICAST_UDP_REPEAT)
        for destination, root in matches:
            self.assertEqual(destination, CLIENT)
            match = body_of(root).children[0]
            self.assertEqual(match.findtext(D, "XAddrs"),
                             "http://%s:80/onvif/device_service" % BOARD)
            self.assertEqual(match.find(WSADIS, "EndpointReference").findtext(WSADIS, "Address"),
                             "urn:uuid:0f3c8a52-1d2e-4b6f-9a7c-1234567890ab")
        self.assertEqual(self.sockets.warnings, [])

    def test_a_group_the_board_did_not_join_is_not_heard(self):
        self.sockets.deliver(probe(), CLIENT, ("239.255.255.251", 3702))
        self.loop.readable(self.sock)  # a spurious wake-up reads nothing and sends nothing
        self.loop.run(1000)
        self.assertEqual(self.sent("ProbeMatches"), [])

    def test_a_wifi_link_up_after_the_start_is_joined_at_the_next_recheck(self):
        """agent.boot starts the agent even when Wi-Fi has not joined yet: the board has no
        address then, and discovery must begin once it has one."""
        self.service.stop()
        self.served = []
        self.start_service(fake_usocket.Port(self.port))
        self.assertEqual(self.sockets.sockets, [])
        self.served = [BOARD]
        self.loop.run(RECHECK_MS + 1000)
        sock = self.sockets.sockets[0]
        self.assertEqual(sock.joined, [("239.255.255.250", BOARD)])
        self.assertTrue(sock in self.loop.handlers)
        self.assertEqual([destination for destination, _ in self.sent("Hello")],
                         [GROUP] * (1 + MULTICAST_UDP_REPEAT))

    def test_bye_on_stop_then_the_socket_is_closed(self):
        self.loop.run(1000)
        self.service.stop()
        byes = self.sent("Bye")
        self.assertEqual([destination for destination, _ in byes], [GROUP])
        self.assertEqual(parse(self.sockets.sent[-1][0]).find(SOAP12, "Body").children[0].name,
                         "Bye")
        self.assertFalse(self.sock.open)
        self.assertFalse(self.sock in self.loop.handlers)


class Esp32DiscoveryTest(BoardDiscovery, unittest.TestCase):
    port = "esp32"


class Rp2DiscoveryTest(BoardDiscovery, unittest.TestCase):
    port = "rp2"

    def test_a_firmware_refusing_the_membership_still_starts_and_says_why(self):
        """MicroPython 1.24.0 on rp2 raises ValueError for any IP_ADD_MEMBERSHIP: the agent must
        boot all the same (a probe sent to the board itself is still answered), with a warning
        naming the fix."""
        self.service.stop()
        lines = Lines()
        log.set_stream(lines)
        self.start_service(fake_usocket.Port("rp2", (1, 24, 0)))
        sock = self.sockets.sockets[0]
        self.assertEqual(sock.joined, [])
        self.assertTrue(lines.has("cannot join 239.255.255.250 on 192.168.4.20: this firmware "
                                  "refuses the membership; update MicroPython"), lines.lines)
        self.sockets.deliver(probe(), CLIENT, (BOARD, 3702))
        self.loop.readable(sock)
        self.loop.run(1000)
        self.assertEqual([destination for destination, _ in self.sent("ProbeMatches")],
                         [CLIENT] * (1 + UNICAST_UDP_REPEAT))

    def test_the_fake_has_what_the_port_has(self):
        """The fake is only worth what it leaves out (micropython#18774's dir() on RP2350)."""
        for name in ("getsockname", "getpeername", "recvmsg", "fileno"):
            self.assertFalse(hasattr(self.sock, name), name)
        for name in ("inet_aton", "inet_pton", "IP_MULTICAST_IF", "IP_MULTICAST_TTL"):
            self.assertFalse(hasattr(self.sockets, name), name)
        self.sock.setsockopt(0, 5, 1)  # an option the port lacks: a printed warning, no error
        self.assertEqual(self.sockets.warnings, [fake_usocket.NOT_IMPLEMENTED])
