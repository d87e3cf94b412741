"""Run inside MicroPython on a built bundle (tools/mpy/run.mjs --bundle DIR --exec this): boot the
bundle as a board's main.py would, up to its first socket, then serve requests through the
sans-IO core. Used by tests/test_boot.py and tests/bench/bench_bundle.py (issue 9).

The board's firmware is played by tests/fake_machine.py and tests/fake_network.py, copied beside
the bundle: a Wi-Fi station that joins on connect(). Prints one line `BOOT-RESULT {json}`:
where every agent and hal module was loaded from, what Wi-Fi was asked, whether anything
listens, the heap allocated (gc.mem_alloc() deltas: importing agent.boot, booting, then the
requests; this port frees nothing inside one run, so these count garbage too), and the status
and body of GetSystemDateAndTime (anonymous), GetDeviceInformation without credentials (the
401's challenge) and with HTTP Digest SHA-256 as the first administrator, and GetHostname (a
cold operation group, loaded for the call and let go after it). `--stop-after imports`
or `--stop-after boot` ends the script there, printing nothing: run.mjs --settled-heap then
shows what the code, or the booted agent, holds once collected.
"""

import binascii
import gc
import json
import sys

import fake_machine
import fake_network

sys.modules["machine"] = fake_machine
network = fake_network.Network()
network.wlan.connected = False  # the station joins on connect(), as after a power-on
sys.modules["network"] = network

gc.collect()
before = gc.mem_alloc()
from agent import boot  # noqa: E402

STOP = sys.argv[sys.argv.index("--stop-after") + 1] if "--stop-after" in sys.argv else None
if STOP == "imports":
    raise SystemExit(0)  # the globals stay reachable (mpy_driver.run_file)
gc.collect()
imported = gc.mem_alloc() - before
agent, settings = boot.prepare("settings.json")
gc.collect()
held = gc.mem_alloc() - before

if STOP == "boot":
    raise SystemExit(0)

from agent.compat import sha256  # noqa: E402
from agent.session import Session  # noqa: E402

PATH = "/onvif/device_service"
HOST = network.wlan.ifconfig()[0]


def exchange(operation, authorization=None):
    """(status, headers text, body) of one request on a fresh connection."""
    body = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/'
            '05/soap-envelope"><s:Body><%s xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
            '</s:Body></s:Envelope>' % operation).encode()
    head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/soap+xml; charset=utf-8"
            "\r\nContent-Length: %d\r\n" % (PATH, HOST, len(body)))
    if authorization:
        head += "Authorization: %s\r\n" % authorization
    out = []
    session = Session(agent.app, out.append, local_host=HOST)
    session.receive(head.encode() + b"\r\n" + body)
    while session.step():
        pass
    head, _, answer = b"".join(out).partition(b"\r\n\r\n")
    head = head.decode()
    return int(head.split(" ")[1]), head, answer.decode()


def hexdigest(text):
    return binascii.hexlify(sha256(text.encode())).decode()


def digest_authorization(challenge_head, user, password):
    """RFC 7616 SHA-256 Digest from the 401's first (SHA-256) challenge."""
    line = [h for h in challenge_head.split("\r\n") if h.lower().startswith("www-authenticate")][0]
    params = {}
    for part in line.split(" ", 2)[2].split(","):
        key, _, value = part.strip().partition("=")
        params[key] = value.strip('"')
    cnonce, nc = "0a4f113b", "00000001"
    ha1 = hexdigest("%s:%s:%s" % (user, params["realm"], password))
    ha2 = hexdigest("POST:" + PATH)
    response = hexdigest("%s:%s:%s:%s:auth:%s" % (ha1, params["nonce"], nc, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=SHA-256, '
            'qop=auth, nc=%s, cnonce="%s", response="%s", opaque="%s"'
            % (user, params["realm"], params["nonce"], PATH, nc, cnonce, response,
               params["opaque"]))


with open(settings["state_dir"] + "/initial-admin-password") as f:
    password = f.read().strip()
clock = exchange("GetSystemDateAndTime")
refused = exchange("GetDeviceInformation")
information = exchange("GetDeviceInformation",
                       digest_authorization(refused[1], "admin", password))
hostname = exchange("GetHostname")  # a cold operation group's (agent.services.Service.cold)
gc.collect()
serving = gc.mem_alloc() - before
loaded = {}
for name in sorted(sys.modules):
    if name.split(".")[0] in ("agent", "hal"):
        loaded[name] = getattr(sys.modules[name], "__file__", None)
print("BOOT-RESULT " + json.dumps({
    "board": agent.board["name"], "heap_imported": imported, "heap_held": held,
    "heap_after_requests": serving,
    "loaded": loaded, "wifi_joined": [list(call) for call in network.wlan.joined],
    "listening": agent.listeners is not None,
    "relays": [r.token for r in agent.device.io.relays],
    "clock": [clock[0], clock[2]], "refused": refused[0],
    "information": [information[0], information[2]], "hostname": [hostname[0], hostname[2]]}))
