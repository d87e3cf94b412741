"""Device management service (tds, checklist clause 8).

Implemented here: the PRE_AUTH operations every client calls before it authenticates
(checklist 8.2, 8.3 #1, 8.4 #6, 8.5 GetEndpointReference), GetDeviceInformation (8.4 #1) and
user handling (8.5 GetUsers, CreateUsers, DeleteUsers, SetUser; the rules live in agent.users),
discovery scopes and mode (8.4 #14-#19; the rules live in agent.scopes), and the relay
operations of 8.6 (GetRelayOutputs, SetRelayOutputState shared with the DeviceIO service,
which also serves them; SetRelayOutputSettings in its tds form).
Capabilities report true only for what is implemented; they grow as later issues land.

GetDeviceInformation: Manufacturer and Model come from the board file (defaults "onvif-agent"
and the board's name); SerialNumber is the device's endpoint UUID, which is made on first start
and kept (a board file describes a kind of board, not one unit, so it cannot hold a serial);
HardwareId is the board file's "hardware_id", else "board/hal".
"""

from .. import __version__
from ..clock import MAX_NTP_SERVERS
from ..soap import SoapFault, sender
from . import SPEC_VERSION, TT, Service, parse_boolean, required
from .aux_ops import AuxiliaryOperations
from .datetime_ops import DateTimeOperations
from .deviceio import RelayOperations, empty_response, parse_relay_settings, token_of

TDS = "http://www.onvif.org/ver10/device/wsdl"

# GetWsdlUrl (8.2): the official WSDL location; the device serves no copy of its own.
WSDL_URL = "http://www.onvif.org/"

# tt:CapabilityCategory values this device has a section for; the others are services it
# does not offer (checklist 8.2: NoSuchService).
_OUR_CATEGORIES = ("All", "Device", "Events")
_OTHER_CATEGORIES = ("Analytics", "Imaging", "Media", "PTZ")
_SECTION_ORDER = ("Device", "Events", "Extension")

# SystemCapabilities lists every spec version the device follows (checklist 8.2 schema trap:
# at least one). 2.60 is the ONVIF numbering older clients compare against.
SUPPORTED_VERSIONS = (SPEC_VERSION, (2, 60))

# The HTTP capabilities of checklist 8.2.1 System (tds attributes, and tt:SystemCapabilities'
# Extension in GetCapabilities): GetSystemUris' downloads and StartSystemRestore
# (agent.services.maintenance_ops, agent.services.system_http), no firmware.
HTTP_SYSTEM_CAPABILITIES = (("HttpFirmwareUpgrade", False), ("HttpSystemBackup", True),
                            ("HttpSystemLogging", True), ("HttpSupportInformation", True))


def device_information(device):
    """GetDeviceInformation's five (name, value) fields, all required by the schema (the
    installer status page shows the same)."""
    board = device.board
    return (("Manufacturer", board.get("manufacturer") or "onvif-agent"),
            ("Model", board.get("model") or board["name"]),
            ("FirmwareVersion", __version__),
            ("SerialNumber", device.settings.get("endpoint_uuid")),
            ("HardwareId", board.get("hardware_id") or board["name"] + "/" + board["hal"]))


def write_version(w, ns, name, version):
    w.start(ns, name)
    w.leaf(TT, "Major", version[0])
    w.leaf(TT, "Minor", version[1])
    w.end()


class DeviceService(AuxiliaryOperations, DateTimeOperations, RelayOperations, Service):
    """The device service; `others` are the further services it announces."""

    key = "device"
    path = "/onvif/device_service"  # fixed by checklist 5.1
    namespace = TDS
    declare = (TDS, TT)
    category = "Device"

    cold = (("agent.services.network_ops", "NetworkOperations",
             " GetHostname SetHostname SetHostnameFromDHCP GetDNS SetDNS GetNTP SetNTP"
             " GetNetworkInterfaces SetNetworkInterfaces GetNetworkProtocols SetNetworkProtocols"
             " GetNetworkDefaultGateway SetNetworkDefaultGateway GetZeroConfiguration"
             " SetZeroConfiguration GetDot11Capabilities GetDot11Status"
             " ScanAvailableDot11Networks "),
            ("agent.services.maintenance_ops", "MaintenanceOperations",
             " GetSystemUris StartSystemRestore SetSystemFactoryDefault SystemReboot "),
            ("agent.services.log_ops", "LogOperations",
             " GetSystemLog GetSystemSupportInformation "),
            ("agent.services.ipfilter_ops", "IPFilterOperations",
             " GetIPAddressFilter SetIPAddressFilter AddIPAddressFilter RemoveIPAddressFilter "))

    def __init__(self, device, others=()):
        super().__init__(device)
        self.services = (self,) + tuple(others)

    @property
    def backend(self):
        """The board's network backend (hal.net); None on a device built bare."""
        return getattr(self.device, "network", None)

    def network_capabilities(self):
        """(name, value) of the tds:Capabilities Network attributes (8.2.1)."""
        b = self.backend
        has = b is not None
        applies = has and b.can_apply
        # DynDNS and Dot11Configuration stay false: no Get/SetDynamicDNS and no 802.11
        # operations are implemented (8.3 #8, #9, #22), whatever a backend could do.
        return [("IPFilter", True),
                ("ZeroConfiguration", has and b.zero_configuration),
                ("IPVersion6", has and b.ipv6),
                ("DynDNS", False),
                ("Dot11Configuration", False),
                ("HostnameFromDHCP", applies and b.hostname_from_dhcp),
                ("NTP", MAX_NTP_SERVERS),
                ("DHCPv6", applies and b.dhcpv6)]

    @property
    def tls(self):
        """Whether HTTPS is served right now (checklist 11: report TLS only when it is on)."""
        return self.device.https_port is not None

    def write_capabilities(self, w):
        # tds:DeviceServiceCapabilities (8.2.1): Network, Security, System are required.
        users = self.device.users
        w.start(TDS, "Capabilities")
        # 8.2.1 Network: what the network backend can do (agent.services.network_ops).
        w.leaf(TDS, "Network", attrs=self.network_capabilities())
        # Checklist 5.4/5.5/11: Digest and UsernameToken with the Table 7 policy; TLS 1.2 (and
        # 1.3) only while HTTPS is served. Certificates are managed on the device, so the
        # certificate operations and OnboardKeyGeneration stay unsupported.
        w.leaf(TDS, "Security", attrs=[
            ("TLS1.0", False), ("TLS1.1", False), ("TLS1.2", self.tls),
            ("OnboardKeyGeneration", False), ("AccessPolicyConfig", False),
            ("DefaultAccessPolicy", True), ("Dot1X", False), ("RemoteUserHandling", False),
            ("X.509Token", False), ("SAMLToken", False), ("KerberosToken", False),
            ("UsernameToken", True), ("HttpDigest", True), ("RELToken", False),
            ("MaxUsers", users.max_users), ("MaxUserNameLength", users.max_name),
            ("MaxPasswordLength", users.max_password)])
        # Checklist 7: the discovery transport answers Resolve and sends Bye; 8.4 #11
        # GetSystemLog (agent.services.log_ops); 8.4 #2, #5 GetSystemUris' HTTP downloads and
        # StartSystemRestore (agent.services.maintenance_ops); no firmware upgrade.
        w.leaf(TDS, "System", attrs=[
            ("DiscoveryResolve", True), ("DiscoveryBye", True), ("RemoteDiscovery", False),
            ("SystemBackup", False), ("SystemLogging", True), ("FirmwareUpgrade", False)] +
            list(HTTP_SYSTEM_CAPABILITIES))
        self.write_misc_capabilities(w)  # the board's auxiliary commands (8.6)
        w.end()

    def write_legacy_capabilities(self, w, ctx):
        """The tt:Device section of GetCapabilities (checklist 8.2 schema traps)."""
        w.start(TT, "Device")
        w.leaf(TT, "XAddr", ctx.url(self.path))
        w.start(TT, "Network")
        network = dict(self.network_capabilities())  # issue 8, checklist 8.3
        for name in ("IPFilter", "ZeroConfiguration", "IPVersion6", "DynDNS"):
            w.leaf(TT, name, network[name])
        w.end()
        w.start(TT, "System")
        w.leaf(TT, "DiscoveryResolve", True)  # as in write_capabilities (checklist 7)
        w.leaf(TT, "DiscoveryBye", True)
        w.leaf(TT, "RemoteDiscovery", False)
        w.leaf(TT, "SystemBackup", False)
        w.leaf(TT, "SystemLogging", True)  # checklist 8.4 #11 (agent.services.log_ops)
        w.leaf(TT, "FirmwareUpgrade", False)
        for version in SUPPORTED_VERSIONS:
            write_version(w, TT, "SupportedVersions", version)
        w.start(TT, "Extension")
        for name, value in HTTP_SYSTEM_CAPABILITIES:
            w.leaf(TT, name, value)
        w.end()
        w.end()
        w.start(TT, "IO")
        w.leaf(TT, "InputConnectors", len(self.device.io.inputs))
        w.leaf(TT, "RelayOutputs", len(self.device.io.relays))
        self.write_legacy_io_extension(w)
        w.end()
        w.start(TT, "Security")
        w.leaf(TT, "TLS1.1", False)
        w.leaf(TT, "TLS1.2", self.tls)
        for name in ("OnboardKeyGeneration", "AccessPolicyConfig", "X.509Token", "SAMLToken",
                     "KerberosToken", "RELToken"):
            w.leaf(TT, name, False)
        w.end()
        w.end()

    # -- checklist 8.2 Capabilities ---------------------------------------------------------

    def GetServices(self, request, ctx):
        include = parse_boolean(required(request, TDS, "IncludeCapability").text,
                                "IncludeCapability")

        def write(w):
            w.start(TDS, "GetServicesResponse")
            for service in self.services:
                w.start(TDS, "Service")
                w.leaf(TDS, "Namespace", service.namespace)
                w.leaf(TDS, "XAddr", ctx.url(service.path))
                if include:
                    w.start(TDS, "Capabilities")
                    service.write_capabilities(w)
                    w.end()
                write_version(w, TDS, "Version", service.version)
                w.end()
            w.end()
        return write

    def GetCapabilities(self, request, ctx):
        wanted = set()
        for category in request.findall(TDS, "Category"):
            value = category.text.strip()
            if value in _OTHER_CATEGORIES:
                raise SoapFault("Receiver", "ActionNotSupported", "NoSuchService",
                                reason="this device has no " + value + " service")
            if value not in _OUR_CATEGORIES:
                raise sender("InvalidArgVal", reason="unknown capability category")
            wanted.add(value)
        everything = not wanted or "All" in wanted
        # tt:Capabilities order: Device, Events, then Extension (DeviceIO, which has no category
        # of its own and so only comes with All).
        sections = [s for category in _SECTION_ORDER for s in self.services
                    if s.category == category and (everything or category in wanted)]

        def write(w):
            w.start(TDS, "GetCapabilitiesResponse")
            w.start(TDS, "Capabilities")
            extensions = [s for s in sections if s.category == "Extension"]
            for service in sections:
                if service.category != "Extension":
                    service.write_legacy_capabilities(w, ctx)
            if extensions:
                w.start(TT, "Extension")
                for service in extensions:
                    service.write_legacy_capabilities(w, ctx)
                w.end()
            w.end()
            w.end()
        return write

    def GetWsdlUrl(self, request, ctx):
        return lambda w: _leaf_response(w, "GetWsdlUrlResponse", "WsdlUrl", WSDL_URL)

    # -- checklist 8.5 ----------------------------------------------------------

    def GetEndpointReference(self, request, ctx):
        return lambda w: _leaf_response(w, "GetEndpointReferenceResponse", "GUID",
                                        self.device.endpoint_reference)

    # -- checklist 8.4 #1 -----------------------------------------------------------------------

    def GetDeviceInformation(self, request, ctx):
        fields = device_information(self.device)

        def write(w):
            w.start(TDS, "GetDeviceInformationResponse")
            for name, value in fields:
                w.leaf(TDS, name, value)
            w.end()
        return write

    # -- checklist 8.4 #14-#19 scopes and discovery mode (faults and rules: agent.scopes) ------

    def GetScopes(self, request, ctx):
        scopes = self.device.scopes.all()

        def write(w):
            w.start(TDS, "GetScopesResponse")
            for uri, definition in scopes:
                w.start(TDS, "Scopes")
                w.leaf(TT, "ScopeDef", definition)
                w.leaf(TT, "ScopeItem", uri)
                w.end()
            w.end()
        return write

    def SetScopes(self, request, ctx):
        self.device.scopes.set(_uris(request, "Scopes"))
        return lambda w: w.leaf(TDS, "SetScopesResponse")

    def AddScopes(self, request, ctx):
        self.device.scopes.add(_uris(request, "ScopeItem"))
        return lambda w: w.leaf(TDS, "AddScopesResponse")

    def RemoveScopes(self, request, ctx):
        removed = self.device.scopes.remove(_uris(request, "ScopeItem"))

        def write(w):
            w.start(TDS, "RemoveScopesResponse")
            for uri in removed:
                w.leaf(TDS, "ScopeItem", uri)
            w.end()
        return write

    def GetDiscoveryMode(self, request, ctx):
        return lambda w: _leaf_response(w, "GetDiscoveryModeResponse", "DiscoveryMode",
                                        self.device.scopes.mode)

    def SetDiscoveryMode(self, request, ctx):
        self.device.scopes.set_mode(required(request, TDS, "DiscoveryMode").text.strip())
        return lambda w: w.leaf(TDS, "SetDiscoveryModeResponse")

    # -- checklist 8.5 users (faults and rules: agent.users) ------------------------------------

    def GetUsers(self, request, ctx):
        users = self.device.users.list()

        def write(w):
            w.start(TDS, "GetUsersResponse")
            for name, level in users:  # never a password (checklist 5.5, 8.5)
                w.start(TDS, "User")
                w.leaf(TT, "Username", name)
                w.leaf(TT, "UserLevel", level)
                w.end()
            w.end()
        return write

    def CreateUsers(self, request, ctx):
        self.device.users.create(_user_entries(request))
        return lambda w: w.leaf(TDS, "CreateUsersResponse")

    def DeleteUsers(self, request, ctx):
        names = [e.text for e in request.findall(TDS, "Username")]
        if not names:
            raise sender("InvalidArgs", reason="missing Username")
        self.device.users.delete(names)
        return lambda w: w.leaf(TDS, "DeleteUsersResponse")

    def SetUser(self, request, ctx):
        self.device.users.update(_user_entries(request))
        return lambda w: w.leaf(TDS, "SetUserResponse")

    # -- checklist 8.6: relay outputs, the tds forms ----------------------------------------

    def SetRelayOutputSettings(self, request, ctx):
        """Unlike the tmd form (a whole tt:RelayOutput), the token and the settings are two
        elements here."""
        settings = parse_relay_settings(required(request, TDS, "Properties"))
        self.device.io.set_relay_settings(token_of(request, TDS, "RelayOutputToken"), *settings)
        return empty_response(TDS, "SetRelayOutputSettingsResponse")



def _uris(request, name):
    """The xs:anyURI children `name` (1..n in the schema); xs:anyURI collapses whitespace."""
    uris = [e.text.strip() for e in request.findall(TDS, name)]
    if not uris:
        raise sender("InvalidArgs", reason="missing " + name)
    return uris


def _user_entries(request):
    """(Username, Password or None, UserLevel) of each tds:User (a tt:User) of the request."""
    users = request.findall(TDS, "User")
    if not users:
        raise sender("InvalidArgs", reason="missing User")
    entries = []
    for user in users:
        password = user.find(TT, "Password")
        entries.append((required(user, TT, "Username").text,
                        None if password is None else password.text,
                        required(user, TT, "UserLevel").text.strip()))
    return entries


def _leaf_response(w, response, name, value):
    w.start(TDS, response)
    w.leaf(TDS, name, value)
    w.end()
