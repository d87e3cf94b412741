"""zeep clients built offline from the official ONVIF WSDLs (CPython tests only).

A real ONVIF client (onvif-zeep-async, Home Assistant) is zeep on these WSDLs, so tests talk to
the agent the same way. Their bindings are SOAP 1.2 (wsdl/soap12), so zeep posts
`Content-Type: application/soap+xml; charset=utf-8; action="<soapAction>"` - and also the SOAP 1.1
`SOAPAction: "<soapAction>"` header, which zeep adds for either SOAP version, so the agent must
tolerate it (checked in tests/test_schema_helper.py). On event.wsdl's tev operations zeep also
adds wsa:Action, wsa:MessageID and wsa:To headers (the WSDL declares wsaw:Action).
"""

import pathlib
import urllib.parse

import zeep
import zeep.transports

from tests.schema import onvif_dir, uri_map, uri_mapper

WSDLS = {
    "devicemgmt": "ver10/device/wsdl/devicemgmt.wsdl",
    "deviceio": "ver10/deviceio.wsdl",
    "event": "ver10/events/wsdl/event.wsdl",
}

DEVICE_BINDING = "{http://www.onvif.org/ver10/device/wsdl}DeviceBinding"
DEVICEIO_BINDING = "{http://www.onvif.org/ver10/deviceIO/wsdl}DeviceIOBinding"
_TEV = "{http://www.onvif.org/ver10/events/wsdl}"
EVENT_BINDING = _TEV + "EventBinding"
PULLPOINT_SUBSCRIPTION_BINDING = _TEV + "PullPointSubscriptionBinding"
SUBSCRIPTION_MANAGER_BINDING = _TEV + "SubscriptionManagerBinding"
NOTIFICATION_PRODUCER_BINDING = _TEV + "NotificationProducerBinding"


class OfflineTransport(zeep.transports.Transport):
    """Serves WSDL/XSD loads from shared/onvif only; HTTP posts (to the agent) are untouched."""

    def load(self, url):
        path = _local_path(url)
        if path is None:
            raise ConnectionRefusedError(f"offline transport: refusing {url} (no local copy)")
        return path.read_bytes()


def _local_path(url):
    """Local file for a WSDL/XSD location, or None.

    zeep resolves a relative import against the URL it asked for, not the file it was served, and
    the external/ copies import their siblings (`./xml.xsd`): so a URL in the same folder as a
    mapped URL is looked up in the folder of that URL's local copy.
    """
    mapped = urllib.parse.urlparse(uri_mapper(url))
    if mapped.scheme in ("", "file"):
        return _file_path(mapped)
    folder, _, name = url.rpartition("/")
    for remote, local in uri_map().items():
        if remote.rpartition("/")[0] == folder:
            candidate = _file_path(urllib.parse.urlparse(local)).parent / name
            if candidate.is_file():
                return candidate
    return None


def _file_path(parsed):
    return pathlib.Path(urllib.parse.unquote(parsed.path))


def offline_transport(**kw) -> OfflineTransport:
    return OfflineTransport(**kw)


class OfflineClient(zeep.Client):
    """zeep Client whose default service (`client.service`) is set by `bind_service`.

    The ONVIF WSDLs have no wsdl:service, so zeep has no default service of its own, and its
    `create_message` (which reads `client.service`) would fail.
    """

    bound = None

    @property
    def service(self):
        return self.bound if self.bound is not None else super().service

    def bind_service(self, binding: str, address: str):
        self.bound = self.create_service(binding, address)
        return self.bound


def zeep_client(wsdl: str, **kw) -> OfflineClient:
    """Client on an official WSDL (WSDLS key, official URL or local path); kw go to zeep.Client."""
    location = str(onvif_dir() / WSDLS[wsdl]) if wsdl in WSDLS else wsdl
    kw.setdefault("transport", offline_transport())
    kw.setdefault("settings", zeep.Settings(strict=True))
    return OfflineClient(location, **kw)


def zeep_service(wsdl: str, binding: str, address: str, **kw) -> OfflineClient:
    """Client whose `service` is `binding` (a *_BINDING constant) at `address`.

    `client.service.GetServices(IncludeCapability=False)` calls the agent; `client.create_message(
    client.service, "GetServices", ...)` renders the request without sending it.
    """
    client = zeep_client(wsdl, **kw)
    client.bind_service(binding, address)
    return client
