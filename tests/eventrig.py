"""An in-process agent for load tests and benchmarks (CPython): the loop, HTTP server, event
service and DeviceIO on the simulator HAL, on a background thread, with raw-socket clients.
Access control is out of the way (AllowAll): tests/test_auth.py covers it."""

import socket
import threading
import time

from agent import log
from agent.app import build_app
from agent.bus import EventBus
from agent.compat import utc_seconds
from agent.device import Device
from agent.deviceio import DeviceIO
from agent.loop import Loop
from agent.notify import NotifySender
from agent.server import HttpServer
from agent.services.events import enable_push
from agent.settings import Settings
from hal.sim import SimHal
from tests.soapclient import envelope, http_request, split_response
from tests.support import AllowAll, Quiet

# Debounce 0: the figures measure the agent's path, not the contact's settling time.
BOARD = {"name": "rig", "hal": "sim", "relays": [{"token": "R1"}],
         "inputs": [{"token": "IN1", "debounce_ms": 0}]}
WSNT = ' xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
WSA = ' xmlns:wsa="http://www.w3.org/2005/08/addressing"'
CREATE = "<tev:CreatePullPointSubscription/>"
DATE = "<tds:GetSystemDateAndTime/>"


def pull(timeout="PT60S"):
    return ("<tev:PullMessages><tev:Timeout>%s</tev:Timeout><tev:MessageLimit>100"
            "</tev:MessageLimit></tev:PullMessages>" % timeout)


def subscribe(address):
    return ("<wsnt:Subscribe%s%s><wsnt:ConsumerReference><wsa:Address>%s</wsa:Address>"
            "</wsnt:ConsumerReference><wsnt:InitialTerminationTime>PT600S"
            "</wsnt:InitialTerminationTime></wsnt:Subscribe>" % (WSNT, WSA, address))


class Rig:
    def __init__(self, board=BOARD):
        log.set_stream(Quiet())
        self.loop = Loop()
        self.loop.enable_wakeup()
        self.hal = SimHal(board, self.loop)
        bus = EventBus(utc_seconds)
        self.io = DeviceIO(self.hal, Settings(), self.loop, bus)
        self.device = Device(board, Settings(), hostname=lambda: "rig", io=self.io, bus=bus,
                             loop=self.loop)
        enable_push(self.device, NotifySender(self.loop, allow_local=True))
        self.io.start()
        self.server = HttpServer(self.loop, build_app(self.device, policy=AllowAll()),
                                 bind="127.0.0.1", port=0)
        self.server.start()
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.server.close()
        self.io.close()
        self.loop.close()
        log.set_stream(None)

    def set_input(self, closed):
        """Flip IN1 from the test's thread; returns the moment it was handed to the loop."""
        line = self.hal.inputs[0]
        moment = time.perf_counter()
        self.loop.call_soon_threadsafe(lambda: line.set(closed))
        return moment

    def toggle_input(self):
        """Flip IN1 to the other state; returns the moment it was handed to the loop."""
        return self.set_input(not self.hal.inputs[0].read())

    def client(self):
        return Client(self.server.port)


class Client:
    """One keep-alive connection speaking raw HTTP."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=90)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rest = b""

    def send(self, body, path="/onvif/event_service"):
        self.sock.sendall(http_request(path, envelope(body), host="127.0.0.1"))

    def receive(self):
        data = self.rest
        while True:
            response, rest = split_response(data)
            if response is not None:
                self.rest = rest
                return response
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk

    def call(self, body, path="/onvif/event_service"):
        self.send(body, path)
        return self.receive()

    def exchange(self, request):
        """Send a ready HTTP request; (perf_counter when it was sent, the response), for the
        latency benchmarks."""
        sent = time.perf_counter()
        self.sock.sendall(request)
        return sent, self.receive()

    def pull_point(self):
        """Create a pull point and read its Initialized messages; returns its path."""
        response = self.call(CREATE)
        address = response.body_child.children[0].children[0].text
        path = "/onvif/" + address.split("/onvif/", 1)[1]
        self.call(pull("PT0S"), path)
        return path

    def close(self):
        self.sock.close()
