"""Discovery scopes and discovery mode (checklist 7 Table 8, 8.4 #14-#19).

The scope list is what a WS-Discovery Probe is matched against and what Hello, ProbeMatch and
ResolveMatch carry; GetScopes returns the very same list (`uris()`).

Fixed scopes come from the board file: `onvif://www.onvif.org/hardware/<model>` and
`onvif://www.onvif.org/name/<board name>` (Table 8: at least one entry of each is mandatory),
plus any URIs the board lists under "scopes". Configurable scopes, the discovery mode and the
metadata version live in the settings file; every change is one atomic settings write.

Decisions where the spec leaves a choice:
- No `Profile/` (or `type/`) scope. Table 8 asks for a fixed profile(/type) entry, but this device
  is not certified against any ONVIF Profile and the Table 8 `type` values are all video ones, so
  claiming either would be dishonest (checklist 7 conflict note). A board may add its own fixed
  scopes, e.g. a vendor URI, under "scopes".
- No configurable scope at first start: Table 8 makes `location/` configurable, but the device
  cannot know where it is, and a placeholder location would only produce false probe matches.
- Values are percent-encoded as one RFC 3986 path segment: spaces and '/' included, so a model
  "A/B" stays one segment for the rfc3986 matching rule.
- SetScopes and AddScopes ignore fixed scopes and scopes already present: clients commonly write
  back the whole GetScopes list, and a fixed scope is already there (devicemgmt.wsdl: SetScopes
  replaces the configurable scopes, "not fixed parameters"). RemoveScopes of a fixed scope is
  ter:FixedScope (checklist 8.4 #17).
- A scope named twice in one RemoveScopes is removed once; the response echoes the request
  (devicemgmt.wsdl: "the response message always will match the request").
- Only a change that alters the list (or the mode) is persisted, bumps the metadata version and
  calls `on_change`: a Hello announcing unchanged metadata would only make clients re-probe.
- A board file whose fixed scopes differ from those of the last start (another model or name)
  bumps the metadata version too: the metadata changed (checklist 7, Hello).
- GetScopes' ter:EmptyScope cannot happen: the hardware and name scopes are always there.
"""

from .errors import ConfigError
from .soap import SoapFault, sender

ONVIF = "onvif://www.onvif.org/"

DISCOVERABLE, NON_DISCOVERABLE = "Discoverable", "NonDiscoverable"
MODES = (DISCOVERABLE, NON_DISCOVERABLE)

# Configurable scopes a client may set: a few location and name entries with room to spare.
# Bounded together with the length so a ProbeMatch stays a few KiB (every scope travels in each
# discovery datagram) and the list costs little RAM and flash.
MAX_SCOPES = 16
# Long enough for a location path (location/country/.../building/floor/room); at most
# MAX_SCOPES * MAX_SCOPE_LENGTH = 4 KiB of configurable scopes per datagram.
MAX_SCOPE_LENGTH = 256

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':' and '@'.
_PCHAR = _LETTERS + "0123456789-._~!$&'()*+,;=:@"
_SCHEME_CHARS = _LETTERS + "0123456789+-."  # RFC 3986 scheme, after its first letter


def encode_segment(value):
    """`value` as one RFC 3986 path segment: UTF-8 bytes outside pchar become %XX."""
    out = []
    for b in value.encode("utf-8"):
        c = chr(b)
        out.append(c if b < 0x80 and c in _PCHAR else "%%%02X" % b)
    return "".join(out)


def check_uri(uri, max_length=MAX_SCOPE_LENGTH):
    """A usable scope: an absolute URI (RFC 3986 scheme ':'), bounded, with no whitespace or
    control character (d:Scopes is a space-separated list). Otherwise env:Sender/InvalidArgVal."""
    if not uri or len(uri) > max_length:
        raise sender("InvalidArgVal",
                     reason="a scope has 1 to %d characters" % max_length)
    for c in uri:
        if ord(c) <= 0x20 or ord(c) == 0x7F:
            raise sender("InvalidArgVal",
                         reason="a scope may not contain whitespace or control characters")
    scheme, colon, _ = uri.partition(":")
    if not colon or not scheme or scheme[0] not in _LETTERS or \
            [c for c in scheme if c not in _SCHEME_CHARS]:
        raise sender("InvalidArgVal", reason="a scope must be an absolute URI with a scheme")


def _unique(uris):
    out = []
    for uri in uris:
        if uri not in out:
            out.append(uri)
    return out


class Scopes:
    """The device's scopes and discovery mode; changes are all-or-nothing and persisted first.

    `on_change` holds callables called with "scopes" or "mode" after each successful change (the
    discovery transport sends Hello or Bye from there).
    """

    def __init__(self, board, settings, *, max_scopes=MAX_SCOPES,
                 max_length=MAX_SCOPE_LENGTH):
        self.settings = settings
        self.max_scopes = max_scopes
        self.max_length = max_length
        self.on_change = []
        extra = board.get("scopes", [])
        if not isinstance(extra, list):
            raise ConfigError("board %s: \"scopes\" must be a list of URIs" % board["name"])
        for uri in extra:
            try:
                check_uri(uri if isinstance(uri, str) else "", max_length)
            except SoapFault as fault:
                raise ConfigError("board %s: scope %r: %s" % (board["name"], uri, fault.reason))
        model = board.get("model") or board["name"]  # as GetDeviceInformation's Model
        self._fixed = _unique([ONVIF + "hardware/" + encode_segment(model),
                               ONVIF + "name/" + encode_segment(board["name"])] + extra)
        if settings.get("fixed_scopes") != self._fixed:
            settings.update(fixed_scopes=self._fixed,
                            metadata_version=self.metadata_version + 1)

    def fixed(self):
        return list(self._fixed)

    def configurable(self):
        return list(self.settings.get("scopes", []))

    def all(self):
        """[(uri, "Fixed" | "Configurable"), ...] as GetScopes lists them."""
        return ([(uri, "Fixed") for uri in self._fixed]
                + [(uri, "Configurable") for uri in self.configurable()])

    def uris(self):
        """Every scope, fixed first: what Probe matching and d:Scopes use (same as GetScopes)."""
        return self._fixed + self.configurable()

    @property
    def metadata_version(self):
        """d:MetadataVersion: bumped on every scope change (checklist 7, Hello)."""
        return self.settings.get("metadata_version", 0)

    @property
    def mode(self):
        return self.settings.get("discovery_mode", DISCOVERABLE)  # checklist 7: the default

    def set(self, uris):
        """SetScopes: the configurable scopes become `uris` (fixed ones ignored)."""
        self._commit(self._new(uris, []))

    def add(self, uris):
        """AddScopes: append `uris` not already present."""
        self._commit(self._new(uris, self.configurable()))

    def remove(self, uris):
        """RemoveScopes: remove every one of `uris` or none; returns them (the response echo)."""
        scopes = self.configurable()
        seen = set()
        for uri in uris:
            if uri in self._fixed:
                raise SoapFault("Sender", "OperationProhibited", "FixedScope",
                                reason="fixed scopes cannot be removed")
            if uri in scopes:
                scopes.remove(uri)
            elif uri not in seen:  # neither present nor removed earlier in this request
                raise SoapFault("Sender", "InvalidArgVal", "NoScope",
                                reason="no such configurable scope")
            seen.add(uri)
        self._commit(scopes)
        return list(uris)

    def set_mode(self, mode):
        """SetDiscoveryMode (8.4 #19): persisted; the transport follows through on_change."""
        if mode not in MODES:
            raise sender("InvalidArgVal", reason="discovery mode must be Discoverable or "
                                                 "NonDiscoverable")
        if mode != self.mode:
            self.settings.update(discovery_mode=mode)
            self._changed("mode")

    def _new(self, uris, scopes):
        """`scopes` plus the new, valid `uris`; TooManyScopes past the bound."""
        scopes = list(scopes)
        for uri in uris:
            check_uri(uri, self.max_length)
            if uri not in self._fixed and uri not in scopes:
                scopes.append(uri)
        if len(scopes) > self.max_scopes:
            raise SoapFault("Receiver", "Action", "TooManyScopes",
                            reason="the device holds at most %d configurable scopes"
                                   % self.max_scopes)
        return scopes

    def _commit(self, scopes):
        if scopes != self.configurable():
            # One settings write: the scopes and their metadata version change together.
            self.settings.update(scopes=scopes, metadata_version=self.metadata_version + 1)
            self._changed("scopes")

    def _changed(self, kind):
        for callback in self.on_change:
            callback(kind)
