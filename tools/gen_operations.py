#!/usr/bin/env python3
"""Generate agent/operations.py, the SOAP dispatch table, from the official WSDLs and the checklist.

Why a generator: checklist 5.1 wants every operation of a supported WSDL answered and anything
else refused as UnknownAction, and 5.5 gives every operation an access class. A hand-written table
drifts from both; this one is rebuilt from shared/onvif/ (the WSDLs) and shared/spec/checklist.md
(the access classes), and tests/test_operations.py fails when the committed copy is stale.

    tools/gen_operations.py            rewrite agent/operations.py
    tools/gen_operations.py --check    exit 1 with a diff when agent/operations.py is stale

Both exit 2, listing every problem, when an operation gets no class or SUPPLEMENT duplicates or
contradicts a checklist row or names no WSDL operation.

The shared folder is ../shared beside the repository, or the path in the environment variable
ONVIF_SHARED. CPython only (xml.etree); the generated module imports nothing.
"""

import argparse
import difflib
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "agent" / "operations.py"

WSDL = "http://schemas.xmlsoap.org/wsdl/"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TMD = "http://www.onvif.org/ver10/deviceIO/wsdl"
TEV = "http://www.onvif.org/ver10/events/wsdl"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSNTW = "http://docs.oasis-open.org/wsn/bw-2"
NS_NAMES = {TDS: "TDS", TMD: "TMD", TEV: "TEV", WSNT: "WSNT"}

# Checklist 5.5; the index is the class value written into agent/operations.py.
ACCESS_NAMES = ("PRE_AUTH", "READ_SYSTEM", "READ_SYSTEM_SENSITIVE", "READ_SYSTEM_SECRET",
                "WRITE_SYSTEM", "UNRECOVERABLE", "READ_MEDIA", "ACTUATE")
(PRE_AUTH, READ_SYSTEM, READ_SYSTEM_SENSITIVE, READ_SYSTEM_SECRET,
 WRITE_SYSTEM, UNRECOVERABLE, READ_MEDIA, ACTUATE) = range(len(ACCESS_NAMES))

# The WSDLs whose own bindings the agent serves (Annex B). Imports are followed for port types
# and messages only, so devicemgmt's Device binding is not served again at the DeviceIO address.
WSDL_FILES = ("ver10/device/wsdl/devicemgmt.wsdl", "ver10/deviceio.wsdl",
              "ver10/events/wsdl/event.wsdl")

# Endpoint of every port type bound in WSDL_FILES (an unlisted one fails the build).
# The event service has two kinds of address (checklist 10.1, 10.3):
# * "events", the event service XAddr announced by GetServices: the ONVIF EventPortType, the WS-BN
#   NotificationProducer (Subscribe and GetCurrentMessage are asked of the producer) and the WS-BN
#   CreatePullPoint factory - all operations that create or query, not address, a subscription.
# * "subscription", the address a subscription gets (CreatePullPointSubscription's, Subscribe's or
#   CreatePullPoint's SubscriptionReference): the ONVIF PullPointSubscription (PullMessages, Seek,
#   SetSynchronizationPoint, Unsubscribe), the WS-BN SubscriptionManager and
#   PausableSubscriptionManager (Renew, Unsubscribe, Pause/ResumeSubscription) and the WS-BN
#   PullPoint (GetMessages, DestroyPullPoint) - all operations on one existing resource.
# NotificationConsumer is the client's side: the device sends Notify, it never receives it.
PORT_TYPES = {
    (TDS, "Device"): "device",
    (TMD, "DeviceIOPort"): "deviceio",
    (TEV, "EventPortType"): "events",
    (WSNTW, "NotificationProducer"): "events",
    (WSNTW, "CreatePullPoint"): "events",
    (TEV, "PullPointSubscription"): "subscription",
    (WSNTW, "SubscriptionManager"): "subscription",
    (WSNTW, "PausableSubscriptionManager"): "subscription",
    (WSNTW, "PullPoint"): "subscription",
    (WSNTW, "NotificationConsumer"): None,
}
ENDPOINT_NOTES = {
    "device": "the device service address (checklist 5.1)",
    "deviceio": "the DeviceIO service address (checklist 9)",
    "events": "the event service address (checklist 10.1, 10.3)",
    "subscription": "a pull point's or subscription manager's address (checklist 10.1, 10.3)",
}
# WS-BN Notify is one-way towards a NotificationConsumer (checklist 10.3: the device POSTs it to
# the client); it is also an operation of the WS-BN PullPoint port type, where it is how a producer
# fills a pull point - never something a client sends to this device.
NOT_RECEIVED = {(WSNT, "Notify")}

# The checklist chapter whose operation tables classify each endpoint's operations.
CHAPTERS = {8: ("device",), 9: ("deviceio",), 10: ("events", "subscription")}

# Access classes of operations that no checklist table row classifies: rows with "-" or a combined
# class, operations named only in prose or headings, post-2016 (P) operations. A clause is cited;
# "Core" / "DeviceIO" means the ONVIF specification text (onvif/specs doc/Core.xml 25.12,
# doc/DeviceIo.xml 22.06), "Table 7 rule" the class semantics of checklist 5.5.
SUPPLEMENT = {
    # 8.5 row "GetRemoteDiscoveryMode/SetRemoteDiscoveryMode/GetDPAddresses/SetDPAddresses" has no
    # class (deprecated remote discovery proxy); Table 7 rule, like Get/SetDiscoveryMode (8.4).
    ("device", TDS, "GetRemoteDiscoveryMode"): READ_SYSTEM,
    ("device", TDS, "SetRemoteDiscoveryMode"): WRITE_SYSTEM,
    ("device", TDS, "GetDPAddresses"): READ_SYSTEM,
    ("device", TDS, "SetDPAddresses"): WRITE_SYSTEM,
    # 8.4 "post-2016": storage configuration ops "READ_MEDIA/ACTUATE"; Core "Storage Configuration"
    # gives the Get ops READ_MEDIA and Create/Set/Delete ACTUATE.
    ("device", TDS, "GetStorageConfigurations"): READ_MEDIA,
    ("device", TDS, "GetStorageConfiguration"): READ_MEDIA,
    ("device", TDS, "CreateStorageConfiguration"): ACTUATE,
    ("device", TDS, "SetStorageConfiguration"): ACTUATE,
    ("device", TDS, "DeleteStorageConfiguration"): ACTUATE,
    # 8.4 "post-2016" geo location (P): Core "GetGeoLocation" READ_SYSTEM, Set/Delete WRITE_SYSTEM.
    ("device", TDS, "GetGeoLocation"): READ_SYSTEM,
    ("device", TDS, "SetGeoLocation"): WRITE_SYSTEM,
    ("device", TDS, "DeleteGeoLocation"): WRITE_SYSTEM,
    # 8.4 "post-2016" cloud UpgradeFirmware (P): Core "UpgradeFirmware" UNRECOVERABLE, like
    # StartFirmwareUpgrade (8.4 #10).
    ("device", TDS, "UpgradeFirmware"): UNRECOVERABLE,
    # 8.5 "Post-2016 (P)" operations. Core gives READ_SYSTEM (not SECRET) to the role and policy
    # reads: they return no credentials, unlike GetUsers/GetAccessPolicy.
    ("device", TDS, "SetHashingAlgorithm"): WRITE_SYSTEM,  # Core "SHA-256 Support ... digest"
    ("device", TDS, "GetUserRoles"): READ_SYSTEM,  # Core "User roles"
    ("device", TDS, "SetUserRole"): WRITE_SYSTEM,
    ("device", TDS, "DeleteUserRole"): WRITE_SYSTEM,
    ("device", TDS, "GetPasswordComplexityOptions"): READ_SYSTEM,  # Core "Security Policies"
    ("device", TDS, "GetPasswordComplexityConfiguration"): READ_SYSTEM,
    ("device", TDS, "SetPasswordComplexityConfiguration"): WRITE_SYSTEM,
    ("device", TDS, "GetPasswordHistoryConfiguration"): READ_SYSTEM,
    ("device", TDS, "SetPasswordHistoryConfiguration"): WRITE_SYSTEM,
    ("device", TDS, "GetAuthFailureWarningOptions"): READ_SYSTEM,
    ("device", TDS, "GetAuthFailureWarningConfiguration"): READ_SYSTEM,
    ("device", TDS, "SetAuthFailureWarningConfiguration"): WRITE_SYSTEM,
    # 9.5 heading: tmd:Capabilities (GetServiceCapabilities, PRE_AUTH).
    ("deviceio", TMD, "GetServiceCapabilities"): PRE_AUTH,
    # 9.4 prose: the four media listings are READ_MEDIA.
    ("deviceio", TMD, "GetVideoSources"): READ_MEDIA,
    ("deviceio", TMD, "GetVideoOutputs"): READ_MEDIA,
    ("deviceio", TMD, "GetAudioSources"): READ_MEDIA,
    ("deviceio", TMD, "GetAudioOutputs"): READ_MEDIA,
    # 9.4 prose: video output configuration "READ_MEDIA/ACTUATE"; DeviceIO gives the Get READ_MEDIA
    # and the Set ACTUATE, and no class to GetVideoOutputConfigurationOptions (a read: READ_MEDIA).
    ("deviceio", TMD, "GetVideoOutputConfiguration"): READ_MEDIA,
    ("deviceio", TMD, "SetVideoOutputConfiguration"): ACTUATE,
    ("deviceio", TMD, "GetVideoOutputConfigurationOptions"): READ_MEDIA,
    # 9.4 prose: the nine source/output configuration ops deprecated in DeviceIO 16.12 (their text
    # is gone); classed like the video output ones above: reads READ_MEDIA, Set ACTUATE.
    ("deviceio", TMD, "GetVideoSourceConfiguration"): READ_MEDIA,
    ("deviceio", TMD, "GetVideoSourceConfigurationOptions"): READ_MEDIA,
    ("deviceio", TMD, "SetVideoSourceConfiguration"): ACTUATE,
    ("deviceio", TMD, "GetAudioSourceConfiguration"): READ_MEDIA,
    ("deviceio", TMD, "GetAudioSourceConfigurationOptions"): READ_MEDIA,
    ("deviceio", TMD, "SetAudioSourceConfiguration"): ACTUATE,
    ("deviceio", TMD, "GetAudioOutputConfiguration"): READ_MEDIA,
    ("deviceio", TMD, "GetAudioOutputConfigurationOptions"): READ_MEDIA,
    ("deviceio", TMD, "SetAudioOutputConfiguration"): ACTUATE,
    # 10.10 heading: tev:Capabilities (GetServiceCapabilities, PRE_AUTH).
    ("events", TEV, "GetServiceCapabilities"): PRE_AUTH,
    # 10.9 heading: GetEventProperties (M, READ_MEDIA).
    ("events", TEV, "GetEventProperties"): READ_MEDIA,
    # 10.10 event broker ops (P): Core "Event Broker" Add/Delete WRITE_SYSTEM, GetEventBrokers
    # READ_MEDIA.
    ("events", TEV, "AddEventBroker"): WRITE_SYSTEM,
    ("events", TEV, "DeleteEventBroker"): WRITE_SYSTEM,
    ("events", TEV, "GetEventBrokers"): READ_MEDIA,
    # 10.3 rows with "-": Core classes no WS-BN operation. Inferred READ_MEDIA like the rows that
    # have a class (Subscribe inferred, Renew/Unsubscribe, 10.1 PullMessages): reading events or
    # managing the caller's own subscription.
    ("events", WSNT, "GetCurrentMessage"): READ_MEDIA,  # reads the last event on a topic
    ("events", WSNT, "CreatePullPoint"): READ_MEDIA,  # like CreatePullPointSubscription (10.1)
    ("subscription", WSNT, "PauseSubscription"): READ_MEDIA,  # like Renew (10.3)
    ("subscription", WSNT, "ResumeSubscription"): READ_MEDIA,
    ("subscription", WSNT, "GetMessages"): READ_MEDIA,  # like PullMessages (10.1)
    ("subscription", WSNT, "DestroyPullPoint"): READ_MEDIA,  # like Unsubscribe (10.1)
}


class GenerationError(Exception):
    """The WSDLs, the checklist and SUPPLEMENT do not give one access class per operation."""


def shared_dir():
    """The shared folder: $ONVIF_SHARED, else ../shared beside the repository."""
    return Path(os.environ.get("ONVIF_SHARED") or ROOT.parent / "shared")


# ---------------------------------------------------------------------------------------------
# WSDLs

def _parse(path):
    """Parse an XML file; return its root and the prefix map in scope at every element.

    ElementTree drops namespace declarations, but WSDL refers to messages and port types by
    QName-valued attributes (message="tds:GetUsersRequest") that need them.
    """
    scopes, stack, pending, root = {}, [{}], {}, None
    for event, item in ET.iterparse(path, events=("start-ns", "start", "end")):
        if event == "start-ns":
            pending[item[0]] = item[1]
        elif event == "start":
            stack.append({**stack[-1], **pending})
            pending = {}
            scopes[item] = stack[-1]
            root = item if root is None else root
        else:
            stack.pop()
    return root, scopes


def _qname(scopes, elem, attr):
    """The (namespace, local name) of a QName-valued attribute."""
    prefix, _, local = elem.get(attr).rpartition(":")
    return scopes[elem][prefix], local


class _Wsdls:
    """Port types and messages of a set of WSDL 1.1 documents and everything they import."""

    def __init__(self, onvif):
        self.uri_map = {k: onvif / v for k, v in
                        json.loads((onvif / "uri-map.json").read_text()).items()
                        if not k.startswith("_")}
        self.loaded = {}
        self.messages = {}      # (tns, name) -> element QName of its single part
        self.port_types = {}    # (tns, name) -> {operation: input message QName}

    def load(self, path):
        """Load one document (and its imports once); return its root and prefix scopes."""
        path = path.resolve()
        if path in self.loaded:
            return self.loaded[path]
        root, scopes = self.loaded[path] = _parse(path)
        tns = root.get("targetNamespace")
        for imp in root.findall("{%s}import" % WSDL):
            location = imp.get("location")
            self.load(self.uri_map.get(location) or path.parent / location)
        for msg in root.findall("{%s}message" % WSDL):
            parts = msg.findall("{%s}part" % WSDL)
            if len(parts) != 1 or parts[0].get("element") is None:
                raise GenerationError("%s: message %s is not document/literal wrapped"
                                      % (path.name, msg.get("name")))
            self.messages[tns, msg.get("name")] = _qname(scopes, parts[0], "element")
        for port_type in root.findall("{%s}portType" % WSDL):
            self.port_types[tns, port_type.get("name")] = {
                op.get("name"): _qname(scopes, op.find("{%s}input" % WSDL), "message")
                for op in port_type.findall("{%s}operation" % WSDL)}
        return root, scopes

    def bound_operations(self, path):
        """Yield (port type QName, operation, request element QName) for the bindings of `path`."""
        root, scopes = self.load(path)
        for binding in root.findall("{%s}binding" % WSDL):
            port_type = _qname(scopes, binding, "type")
            ops = self.port_types[port_type]
            bound = {op.get("name") for op in binding.findall("{%s}operation" % WSDL)}
            if bound != set(ops):
                raise GenerationError("%s: binding %s does not bind exactly the operations of %s"
                                      % (path.name, binding.get("name"), port_type[1]))
            for name, message in ops.items():
                yield port_type, name, self.messages[message]


def wsdl_operations(onvif):
    """Read the served operations from the WSDLs.

    Returns (operations, port type sizes): operations maps (endpoint, element namespace, element
    local name) to the operation name; sizes maps each bound port type's local name to its
    number of operations, for the counts in sources.md.
    """
    wsdls = _Wsdls(onvif)
    operations, sizes = {}, {}
    for rel in WSDL_FILES:
        for port_type, name, element in wsdls.bound_operations(onvif / rel):
            if port_type not in PORT_TYPES:
                raise GenerationError("port type {%s}%s is bound but has no endpoint in PORT_TYPES"
                                      % port_type)
            sizes[port_type[1]] = len(wsdls.port_types[port_type])
            endpoint = PORT_TYPES[port_type]
            if endpoint is None or element in NOT_RECEIVED:
                continue
            if element[1] != name:
                raise GenerationError("operation %s has request element %s; the checklist names "
                                      "operations, the dispatcher elements" % (name, element[1]))
            operations[(endpoint,) + element] = name
    return operations, sizes


# ---------------------------------------------------------------------------------------------
# Checklist

_CLASS_TOKEN = re.compile(r"\b[A-Z][A-Z_]*[A-Z]\b")


def _cells(line):
    """The cells of a markdown table row (`\\|` is a literal bar, not a separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _access(cell):
    """The single access class in an Access cell, or None for "-" or a combined "A/B" cell."""
    tokens = _CLASS_TOKEN.findall(cell)
    unknown = [t for t in tokens if t not in ACCESS_NAMES]
    if unknown:
        raise GenerationError("unknown access class %s in %r" % (unknown, cell))
    return ACCESS_NAMES.index(tokens[0]) if len(tokens) == 1 else None


def _operation_names(cell):
    """The operation names of an Operation cell: "A (note)", "A / B", "**A**", "`A`"."""
    text = re.sub(r"\([^)]*\)", "", cell.replace("*", "").replace("`", ""))
    return [name.strip() for name in text.split("/")]


def checklist_classes(path):
    """Access classes from the checklist's operation tables, by chapter and operation name.

    Every markdown table whose header has an "Operation" and an "Access" column counts; rows
    whose Access cell holds no single class ("-", "READ_MEDIA/ACTUATE") are left to SUPPLEMENT.
    Returns {(chapter, operation): (class, line number)}.
    """
    classes = {}
    chapter, columns = None, None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        heading = re.match(r"## (\d+) ", line)
        if heading:
            chapter = int(heading.group(1))
        if not line.startswith("|"):
            columns = None
            continue
        cells = _cells(line)
        if columns is None:
            columns = (cells.index("Operation"), cells.index("Access")) \
                if {"Operation", "Access"} <= set(cells) else ()
            if columns and chapter not in CHAPTERS:
                raise GenerationError("checklist line %d: operation table in chapter %s, "
                                      "which CHAPTERS does not map" % (number, chapter))
            continue
        if not columns or set(line) <= set("|-: "):
            continue
        access = _access(cells[columns[1]])
        if access is None:
            continue
        for name in _operation_names(cells[columns[0]]):
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", name):
                raise GenerationError("checklist line %d: %r is not an operation name"
                                      % (number, name))
            earlier = classes.setdefault((chapter, name), (access, number))
            if earlier[0] != access:
                raise GenerationError("checklist lines %d and %d give %s different classes"
                                      % (earlier[1], number, name))
    return classes


# ---------------------------------------------------------------------------------------------
# Table

def build(shared=None):
    """Join WSDL operations and checklist classes; return (services, port type sizes).

    services: endpoint -> namespace -> element local name -> access class. Raises
    GenerationError listing every operation without a class, every SUPPLEMENT entry that
    duplicates or contradicts a checklist row or names no WSDL operation, and every classified
    checklist operation that no WSDL defines.
    """
    shared = Path(shared or shared_dir())
    operations, sizes = wsdl_operations(shared / "onvif")
    table = checklist_classes(shared / "spec" / "checklist.md")
    chapter_of = {endpoint: chapter for chapter, endpoints in CHAPTERS.items()
                  for endpoint in endpoints}
    problems, services = [], {}
    for key in sorted(SUPPLEMENT.keys() - operations.keys()):
        problems.append("SUPPLEMENT entry %s/%s names no WSDL operation" % (key[0], key[2]))
    for (chapter, name), (access, number) in sorted(table.items()):
        if not any(chapter_of[key[0]] == chapter and op == name for key, op in operations.items()):
            problems.append("checklist line %d: %s is no operation of %s"
                            % (number, name, "/".join(CHAPTERS[chapter])))
    for key, name in sorted(operations.items()):
        row = table.get((chapter_of[key[0]], name))
        extra = SUPPLEMENT.get(key)
        if row and extra is not None:
            problems.append("SUPPLEMENT %s/%s = %s %s checklist line %d (%s)" % (
                key[0], name, ACCESS_NAMES[extra],
                "duplicates" if extra == row[0] else "contradicts", row[1], ACCESS_NAMES[row[0]]))
        access = row[0] if row else extra
        if access is None:
            problems.append("%s operation {%s}%s has no access class" % key)
        services.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = access
    if problems:
        raise GenerationError("\n".join(problems))
    return services, sizes


def render(services):
    """The text of agent/operations.py (format agreed with the dispatcher)."""
    names = ['"%s"' % name for name in ACCESS_NAMES]
    lines = [
        '"""Generated by tools/gen_operations.py from the official WSDLs - do not edit."""',
        "# Access classes, checklist 5.5",
        "; ".join("%s = %d" % (name, i) for i, name in enumerate(ACCESS_NAMES[:4])),
        "; ".join("%s = %d" % (name, i) for i, name in enumerate(ACCESS_NAMES[4:], 4)),
        "ACCESS_NAMES = (%s," % ", ".join(names[:4]),
        "                %s)  # index = class" % ", ".join(names[4:]),
        'TDS = "%s"; TMD = "%s"' % (TDS, TMD),
        'TEV = "%s"; WSNT = "%s"' % (TEV, WSNT),
        "# endpoint -> request-element namespace -> ' Name=class' for each operation, where Name is",
        "# the request element's local name and class an index of ACCESS_NAMES. One string, not a",
        "# dict: on MicroPython it costs half the heap of a dict of interned names (README figures).",
        "SERVICES = {",
    ]
    for endpoint in sorted(services):
        lines.append('    "%s": {  # %s' % (endpoint, ENDPOINT_NOTES[endpoint]))
        for ns in sorted(services[endpoint], key=NS_NAMES.__getitem__):
            entries = sorted(services[endpoint][ns].items())
            for i, (name, access) in enumerate(entries):
                lead = "        %s: (" % NS_NAMES[ns] if i == 0 else " " * (len(NS_NAMES[ns]) + 11)
                lines.append('%s" %s=%d"' % (lead, name, access))
            lines.append(" " * (len(NS_NAMES[ns]) + 11) + '" "),')
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 with a diff when agent/operations.py is stale")
    args = parser.parse_args(argv)
    try:
        text = render(build()[0])
    except (GenerationError, OSError) as exc:
        print("gen_operations: %s" % exc, file=sys.stderr)
        return 2
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if args.check:
        if current == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(True), text.splitlines(True),
            "agent/operations.py (committed)", "agent/operations.py (generated)"))
        return 1
    OUTPUT.write_text(text, encoding="utf-8")
    print("wrote %s" % OUTPUT.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
