"""WS-Discovery client side of tests/test_discovery_e2e.py, run inside a test network namespace.

`python tests/discovery_client.py MODE JSON` prints one JSON line:
* probe: the `wsdiscovery` client (the PyPI package) searches by multicast ({"types":
  [[ns, local]], "scopes": [uri], "timeout": s, "family": 4 or 6 to probe over that IP version
  only}) and prints the services found: {"services": [{"epr", "xaddrs", "scopes", "types"}]}.
  With "address" and "port" the probe is directed: its own threaded client never reads the
  replies to a directed probe (wsdiscovery 2.1.2 sends it from a socket it does not poll), so
  the Probe is built and the replies parsed with its own message functions around a plain
  socket. The address may be IPv6, with a zone ("fe80::1%eth0"), or a group with the interface
  as its zone ("ff02::c%eth0": wsdiscovery itself never probes a link with only link-local
  addresses).
* send: sends raw datagrams ({"address", "port", "datagrams": [str], "timeout"}) from one socket
  and prints every reply: {"replies": [str]}.
* listen: joins 239.255.255.250 on `interface_address`, or FF02::C on `interface` (a name), and
  records what arrives for `seconds` (after printing {"ready": true} on a first line):
  {"heard": [str]}.
* soap: POSTs a device-service request body ({"url", "body", "user", "password"}) with HTTP
  Digest and prints {"status": n, "text": str}. With "library": "urllib3" it POSTs through
  urllib3 itself, without credentials: requests cannot reach a URL with an IPv6 zone
  ("[fe80::1%25eth0]"), urllib3 can.
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
    from wsdiscovery import threaded
    from wsdiscovery.discovery import ThreadedWSDiscovery
    if args.get("family"):  # its address monitors decide which links it probes on
        wanted = socket.AF_INET if args["family"] == 4 else socket.AF_INET6
        addresses = threaded._getNetworkAddrs
        threaded._getNetworkAddrs = lambda af: addresses(af) if af == wanted else []
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
    sock = udp_socket(args["address"])
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


def udp_socket(address):
    return socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)


def send(args):
    sock = udp_socket(args["address"])
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
    if "interface" in args:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", args.get("port", 3702)))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                        socket.inet_pton(socket.AF_INET6, "ff02::c")
                        + socket.if_nametoindex(args["interface"]).to_bytes(4, sys.byteorder))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", args.get("port", 3702)))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(
            "239.255.255.250") + socket.inet_aton(args["interface_address"]))
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
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.'
            'onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
            '%s</s:Body></s:Envelope>' % args["body"]).encode()
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    if args.get("library") == "urllib3":
        import urllib3
        r = urllib3.request("POST", args["url"], body=body, headers=headers, timeout=10)
        return {"status": r.status, "text": r.data.decode()}
    import requests
    from requests.auth import HTTPDigestAuth
    r = requests.post(args["url"], data=body, timeout=10, headers=headers,
                      auth=HTTPDigestAuth(args["user"], args["password"]))
    return {"status": r.status_code, "text": r.text}


if __name__ == "__main__":
    mode, raw = sys.argv[1], json.loads(sys.argv[2])
    modes = {"probe": probe, "send": send, "listen": listen, "soap": soap}
    print(json.dumps(modes[mode](raw)), flush=True)
