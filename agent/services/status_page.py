"""The installer status page (issue 9): what an installer wiring a door wants to see at `/`,
served by the same loop as the ONVIF services: device information, relays with a button to
pulse each, inputs with their live state, serial ports, and the last events.

Three plain HTTP resources (agent.app serves them as agent.services.system_http does: HTTP
Digest, then Table 7): the page itself (agent.services.status_markup) and the JSON state its
script polls are READ_SYSTEM_SENSITIVE (Administrator or Operator), a pulse is ACTUATE (as
SetRelayOutputState).

Cross-site request forgery: a browser that has authenticated to the device replays its cached
Digest credentials on any request to it, a plain HTML form POST from another site included. A
form can only send application/x-www-form-urlencoded, multipart/form-data or text/plain and no
header of its own (agent.http already answers those three types 415); a cross-site script
sending a JSON type or a custom header needs a CORS preflight (OPTIONS), which the device never
grants. So a pulse requires Content-Type application/json AND the X-Status-Page header, and is
refused when an Origin header names another origin than the one addressed.

The markup (agent.services.status_markup) is loaded for each GET of the page and, on a board,
let go again after it, as the cold operation groups are (agent.services.Service.cold): a page
opened once per visit should not hold a door controller's RAM. The state its script polls every
second is answered from here, without loading anything.
"""

import json

from ..compat import load_cold
from ..datetimes import format_datetime
from ..operations import ACTUATE, READ_SYSTEM_SENSITIVE
from ..replies import Reply, text_reply
from ..soap import SoapFault
from ..topics import LIVE_ONLY
from .device import device_information
from .system_http import Resource

PAGE_PATH = "/"
# The paths and the header the page's script uses (tests check the page names these).
STATE_PATH = "/status/state"
PULSE_PATH = "/status/pulse"
PULSE_HEADER = "X-Status-Page"  # a pulse request must carry it: the forgery guard
RECENT = 20  # events the page lists, newest first
BISTABLE_PULSE_MS = 1000  # a bistable relay has no DelayTime: the page's pulse lasts 1 s
NO_STORE = ("Cache-Control", "no-store")
JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))


class RecentEvents:
    """The last RECENT bus messages, for a device without persistent storage (board
    `event_storage_bytes` 0): a bus listener keeping what the event store would have kept."""

    def __init__(self, bus):
        self.messages = []
        bus.listen(self.record)

    def record(self, message):
        if message.topic in LIVE_ONLY:  # periodic measurements would push the door events out
            return
        self.messages.append(message)
        if len(self.messages) > RECENT:
            self.messages.pop(0)

    def newest_first(self):
        return [self.messages[i] for i in range(len(self.messages) - 1, -1, -1)]


def state(device, recent):
    """What the page shows, as plain data for JSON; `recent` is the RecentEvents used when the
    device has no event store."""
    io = device.io
    store = device.store  # agent.eventstore.EventStore, or None
    events = store.latest(RECENT) if store is not None else recent.newest_first()
    return {
        "device": device_information(device),
        "relays": [{"token": r.token, "description": r.hw.spec.get("description", ""),
                    "state": r.state, "mode": r.mode, "delay_ms": r.delay_ms,
                    "idle_state": r.idle_state} for r in io.relays],
        "inputs": [{"token": i.token, "description": i.hw.spec.get("description", ""),
                    "active": i.logical_state(), "contact": "closed" if i.hw.read() else "open",
                    "idle_state": i.idle_state} for i in io.inputs],
        "serial_ports": [dict([("token", p.token), ("type", p.type),
                               ("description", p.spec.get("description", ""))] +
                              list(p.config.items())) for p in io.serial_ports],
        # [time, topic, operation, source, data]: arrays, not objects, keep 20 events and the
        # rest under the HTTP layer's 4 KB stream buffer (one body copy fewer, no chunking).
        "events": [(format_datetime(m.time), m.topic, m.operation, m.source, m.data)
                   for m in events],
        "events_stored": device.store is not None,
    }


def json_reply(status, data):
    """`data` as JSON with <, > and & escaped (they occur only inside strings): board text stays
    inert even where something would sniff the JSON as HTML."""
    body = json.dumps(data)
    for char, escaped in JSON_ESCAPES:
        if char in body:  # rarely: each replace copies the whole text
            body = body.replace(char, escaped)
    body = body.encode()
    return Reply(status, lambda sink: sink(body), "application/json",
                 [NO_STORE, ("X-Content-Type-Options", "nosniff")])


class PageResource(Resource):
    """GET /: the page, one constant (agent.services.status_markup)."""

    key = "status"
    path = PAGE_PATH
    access = READ_SYSTEM_SENSITIVE

    def http(self, request, ctx):
        markup = load_cold("agent.services.status_markup")
        return Reply(200, lambda sink: sink(markup.PAGE), "text/html; charset=utf-8",
                     [("Content-Security-Policy", markup.CSP), NO_STORE,
                      ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")])


class StateResource(PageResource):
    """GET the JSON the page's script polls. Quiet (agent.app): a page left open polls it every
    second, which would push everything else out of the access log; opening the page and every
    pulse are logged."""

    path = STATE_PATH
    quiet = True

    def __init__(self, device, recent):
        PageResource.__init__(self, device)
        self.recent = recent

    def http(self, request, ctx):
        return json_reply(200, state(self.device, self.recent))


class PulseResource(PageResource):
    """POST {"token": ...}: pulse that relay, for its DelayTime when Monostable, else
    BISTABLE_PULSE_MS (DeviceIO's `pulse_ms`, the relay falls back on a loop timer)."""

    path = PULSE_PATH
    method = "POST"
    access = ACTUATE

    def http(self, request, ctx):
        refused = forged(request, ctx)
        if refused:
            return text_reply(403, refused + "\n")
        try:
            token = json.loads(request.body)["token"]
            relay = self.device.io.relay(token)
        except (ValueError, KeyError, TypeError):
            return text_reply(400, 'Send {"token": "<relay token>"}\n')
        except SoapFault:
            return text_reply(404, "No such relay\n")
        pulse_ms = relay.delay_ms if relay.mode == "Monostable" else BISTABLE_PULSE_MS
        try:
            self.device.io.set_relay_state(token, "active", pulse_ms=pulse_ms)
        except SoapFault as exc:  # the HAL failed (logged by agent.deviceio)
            return text_reply(500, exc.reason + "\n")
        return json_reply(200, {"token": token, "pulse_ms": pulse_ms})


def forged(request, ctx):
    """Why this pulse request may come from another site's form or script (module docstring),
    or None."""
    if request.content_type != "application/json" or request.header(PULSE_HEADER) is None:
        return "A pulse needs Content-Type application/json and the %s header" % PULSE_HEADER
    origin = request.header("origin")
    if origin is not None and origin != ctx.url(""):
        return "Cross-origin pulse refused"
    return None


def status_resources(device):
    """The page, its state and its pulse; the in-memory event list only without a store."""
    recent = RecentEvents(device.bus) if device.store is None else None
    return [PageResource(device), StateResource(device, recent), PulseResource(device)]
