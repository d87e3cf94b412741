"""WS-Discovery client side of tests/test_discovery_e2e.py, run inside a test network namespace.

`python tests/discovery_client.py MODE JSON` prints one JSON line:
* probe: the `wsdiscovery` client (the PyPI package) searches by multicast ({"types":
  [[ns, local]], "scopes": [uri], "timeout": s}) and prints the services found: {"services":
  [{"epr", "xaddrs", "scopes", "types"}]}. With "address" and "port" the probe is directed: its
  own threaded client never reads the replies to a directed probe (wsdiscovery 2.1.2 sends it
  from a socket it does not poll), so the Probe is built and the replies parsed with its own
  message functions around a plain socket.
* send: sends raw datagrams ({"address", "port", "datagrams": [str], "timeout"}) from one socket
  and prints every reply: {"replies": [str]}.
* listen: joins 239.255.255.250 on `interface_address` and records what arrives for `seconds`
  (after printing {"ready": true} on a first line): {"heard": [str]}.
* soap: POSTs a device-service request body ({"url", "body", "user", "password"}) with HTTP
  Digest and prints {"status": n, "text": str}.
It runs as a separate process so the test's own process never joins a multicast group outside
the namespaces the test made.
"""

import json
import pathlib
import socket
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def describe(service):
    return {"epr": service.getEPR(), "xaddrs": list(service.getXAddrs()),
            "scopes": [str(scope.getValue()) for scope in service.getScopes()],
            "types": ["{%s}%s" % (t.getNamespace(), t.getLocalname())
                      for t in service.getTypes()]}


def probe(args):
    from wsdiscovery import QName, Scope
    types = [QName(ns, local) for ns, local in args.get("types", [])] or None
    scopes = [Scope(uri) for uri in args.get("scopes", [])] or None
    if args.get("address"):
        return {"services": directed_probe(types, scopes, args)}
    from wsdiscovery.discovery import ThreadedWSDiscovery
    wsd = ThreadedWSDiscovery()
    wsd.start()
    try:
        services = wsd.searchServices(types=types, scopes=scopes,
                                      timeout=args.get("timeout", 3))
        return {"services": [describe(s) for s in services]}
    finally:
        wsd.stop()


def directed_probe(types, scopes, args):
    from wsdiscovery.actions.probe import constructProbe
    from wsdiscovery.message import createSOAPMessage, parseSOAPMessage
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(args.get("timeout", 3))
    sock.sendto(createSOAPMessage(constructProbe(types, scopes)).encode(),
                (args["address"], args["port"]))
    found, seen = [], set()
    try:
        while True:
            data, source = sock.recvfrom(65536)
            env = parseSOAPMessage(data, source[0])
            # SOAP-over-UDP repeats every message; a receiver keeps the first of each MessageID.
            if env is not None and env.getMessageId() not in seen:
                seen.add(env.getMessageId())
                found.extend(describe(s) for s in env.getProbeResolveMatches())
    except socket.timeout:
        pass
    return found


def send(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(args.get("timeout", 2))
    for datagram in args["datagrams"]:
        sock.sendto(datagram.encode("latin-1"), (args["address"], args["port"]))
    replies = []
    try:
        while True:
            replies.append(sock.recv(65536).decode("utf-8", "replace"))
    except socket.timeout:
        pass
    return {"replies": replies}


def listen(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", args.get("port", 3702)))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton("239.255.255.250") + socket.inet_aton(args["interface_address"]))
    print(json.dumps({"ready": True}), flush=True)
    heard = []
    deadline = time.monotonic() + args["seconds"]
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            heard.append(sock.recv(65536).decode("utf-8", "replace"))
        except socket.timeout:
            break
    return {"heard": heard}


def soap(args):
    import requests
    from requests.auth import HTTPDigestAuth
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.'
            'onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
            '%s</s:Body></s:Envelope>' % args["body"])
    r = requests.post(args["url"], data=body.encode(), timeout=10,
                      auth=HTTPDigestAuth(args["user"], args["password"]),
                      headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    return {"status": r.status_code, "text": r.text}


if __name__ == "__main__":
    mode, raw = sys.argv[1], json.loads(sys.argv[2])
    modes = {"probe": probe, "send": send, "listen": listen, "soap": soap}
    print(json.dumps(modes[mode](raw)), flush=True)
