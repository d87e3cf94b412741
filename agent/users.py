"""The user database (checklist 5.4, 5.5, 8.5): names, passwords and user levels.

Passwords are stored as given, in plain text, in STATE/users.json. Both authentication schemes
force this: a WS-UsernameToken PasswordDigest is SHA-1(nonce + created + password) over a fresh
nonce each time, and an HTTP Digest response is built on a hash of user:realm:password for the
algorithm the client picks (MD5 or SHA-256), so the verifier needs the password itself, not a
one-way hash of it. The file is therefore created mode 0600 wherever the runtime has permission
bits, and no password is ever logged, put in a fault or returned (GetUsers lists names and
levels only).

Factory state (checklist 5.5): with no users at all, `ensure_admin` creates one Administrator,
from ONVIF_AGENT_ADMIN ("user:password") or as "admin" with a random password the CLI shows once.

Decisions where the spec leaves a choice:
- Usernames may hold any character except control characters and ':' (checklist 5.6 wants no
  restrictions beyond the spec's, but ':' separates user and password in HTTP Digest's A1 and in
  ONVIF_AGENT_ADMIN, and control characters cannot travel in an HTTP header). Names are compared
  exactly (case-sensitive, as HTTP Digest compares them).
- Lengths are counted in characters (MaxUserNameLength/MaxPasswordLength are "number of
  characters", devicemgmt.wsdl).
- A too-weak password is ter:PasswordTooWeak in CreateUsers too: the CreateUsers fault table says
  ter:Password, SetUser says ter:PasswordTooWeak (spec quirk, checklist 8.5); one name for one
  condition. The only strength rule is a minimum length, so a missing or empty password is too
  weak (devicemgmt.wsdl: "If password is missing, then fault message Too weak password").
- No user is fixed (ter:FixedUser is never sent). Instead the last Administrator can be neither
  deleted nor demoted: env:Sender/ter:OperationProhibited, no second-level subcode, since Table 85
  has none for it. Without that rule a client could lock everybody out of the device for good.
- A name listed twice in one DeleteUsers or SetUser request is env:Sender/ter:InvalidArgVal
  (devicemgmt.wsdl asks for "a fault" without naming it); twice in CreateUsers is UsernameClash.
- The level Extended (post-2016 user roles, checklist 5.5) and unknown levels are
  env:Sender/ter:InvalidArgVal.
"""

import json
import os

from . import log
from .compat import urandom, write_atomic
from .errors import ConfigError
from .settings import read_state
from .soap import SoapFault, sender

ADMINISTRATOR, OPERATOR, USER = "Administrator", "Operator", "User"
LEVELS = (ADMINISTRATOR, OPERATOR, USER)
ANONYMOUS = "Anonymous"

FILENAME = "users.json"
INITIAL_PASSWORD_FILE = "initial-admin-password"

# The handful of accounts a door controller has (at least one per level for
# DefaultAccessPolicy, checklist 5.5) with room to spare; bounded so the list stays a few KiB in
# RAM and on flash, and a linear lookup per request stays cheap.
MAX_USERS = 16
# Room for e-mail-style and service account names (camera firmware commonly stops at 31); a
# bound so stored names, and the credentials checked against them, stay small.
MAX_NAME = 32
# An empty name reads as "no credentials" in most clients' login forms.
MIN_NAME = 1
# At least 28: the ONVIF security white paper's derived "password equivalent" is 28 bytes and
# devicemgmt.wsdl (CreateUsers) recommends accepting it; 64 leaves room for passphrases.
MAX_PASSWORD = 64
# NIST SP 800-63B's minimum for chosen passwords; no composition rules.
MIN_PASSWORD = 8

# Generated passwords: no 0/O/o or 1/l/I, so they can be read off a console and typed in.
_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
GENERATED_LENGTH = 20  # 20 characters of 56: about 116 bits
DEFAULT_ADMIN = "admin"


def _prohibited(subcode, reason):
    return SoapFault("Sender", "OperationProhibited", subcode, reason=reason)


def _check_level(level):
    if level == ANONYMOUS:  # checklist 5.5: CreateUsers/SetUser must refuse it
        raise _prohibited("AnonymousNotAllowed", "the Anonymous level cannot be given to a user")
    if level not in LEVELS:
        raise sender("InvalidArgVal", reason="user level must be Administrator, Operator or User")


def _has_admin(users):
    for _, _, level in users:
        if level == ADMINISTRATOR:
            return True
    return False


def _index(users, name):
    for i, user in enumerate(users):
        if user[0] == name:
            return i
    return -1


def _once(seen, name):
    """devicemgmt.wsdl: a name twice in one DeleteUsers (or SetUser) request is a fault."""
    if name in seen:
        raise sender("InvalidArgVal", reason="a username is listed twice")
    seen.add(name)


def generate_password(length=GENERATED_LENGTH):
    """A random password from an alphabet without look-alike characters."""
    usable = 256 - 256 % len(_ALPHABET)  # bytes at or past this would bias the modulo
    out = []
    while len(out) < length:
        for b in urandom(length):
            if b < usable and len(out) < length:
                out.append(_ALPHABET[b % len(_ALPHABET)])
    return "".join(out)


def write_initial_password(state_dir, password):
    """Leave the generated password in STATE/initial-admin-password (0600); returns its path."""
    path = state_dir + "/" + INITIAL_PASSWORD_FILE
    write_atomic(path, (password + "\n").encode(), mode=0o600)
    return path


class Users:
    """The users, in creation order; every change is all-or-nothing and persisted before it
    takes effect (checklist 8.5). Without `state_dir` the database lives in memory only."""

    def __init__(self, state_dir=None, *, max_users=MAX_USERS, max_name=MAX_NAME,
                 max_password=MAX_PASSWORD, min_password=MIN_PASSWORD):
        self.max_users = max_users
        self.max_name = max_name
        self.max_password = max_password
        self.min_password = min_password
        self.path = state_dir and state_dir + "/" + FILENAME
        self._users = []  # (name, password, level) tuples; a list keeps the order on both runtimes
        if self.path:
            self._load()

    def _load(self):
        # An unreadable file is moved aside; ensure_admin then applies again.
        self._users = read_state(self.path, "user database", _parse) or []

    def lookup(self, name):
        """(password, level) of user `name`, or None."""
        i = _index(self._users, name)
        return None if i < 0 else self._users[i][1:]

    def list(self):
        """[(name, level), ...] in creation order (never a password)."""
        return [(name, level) for name, _, level in self._users]

    def create(self, entries):
        """CreateUsers: add every (name, password, level) or none."""
        users = list(self._users)
        for name, password, level in entries:
            self._check_new(name, password, level)
            if _index(users, name) >= 0:  # existing, or earlier in this request
                raise _prohibited("UsernameClash", "the username already exists")
            if len(users) >= self.max_users:
                raise SoapFault("Receiver", "Action", "TooManyUsers",
                                reason="the device holds at most %d users" % self.max_users)
            users.append((name, password, level))
        self._commit(users)

    def delete(self, names):
        """DeleteUsers: remove every named user or none."""
        users = list(self._users)
        seen = set()
        for name in names:
            _once(seen, name)
            i = _index(users, name)
            if i < 0:
                raise SoapFault("Sender", "InvalidArgVal", "UsernameMissing",
                                reason="no such user")
            users.pop(i)
        self._keep_admin(users, "deleted")
        self._commit(users)

    def update(self, entries):
        """SetUser: set the password and level of every (name, password or None, level) or none.

        A missing password means "clear it" (checklist 8.5); empty passwords are not accepted.
        """
        users = list(self._users)
        seen = set()
        for name, password, level in entries:
            _once(seen, name)
            i = _index(users, name)
            if i < 0:
                raise SoapFault("Sender", "InvalidArgVal", "UsernameMissing",
                                reason="no such user")
            _check_level(level)
            self._check_password(password)
            users[i] = (name, password, level)
        self._keep_admin(users, "demoted")
        self._commit(users)

    def ensure_admin(self, spec=None):
        """First start: with no users, create an Administrator; returns a generated password.

        `spec` is ONVIF_AGENT_ADMIN, "user:password", checked like CreateUsers (ConfigError if
        unusable) and ignored once users exist. Without it the user is "admin" with a random
        password, which is returned for the caller to show once; None when nothing was generated.
        """
        entry = spec and self._parse_spec(spec)
        if self._users:
            if entry:
                log.info("ONVIF_AGENT_ADMIN ignored: the user database already has users")
            return None
        if entry:
            self.create([entry])
            return None
        password = generate_password()
        self.create([(DEFAULT_ADMIN, password, ADMINISTRATOR)])
        return password

    def _parse_spec(self, spec):
        name, colon, password = spec.partition(":")
        if not colon:
            raise ConfigError("ONVIF_AGENT_ADMIN must be user:password")
        try:
            self._check_new(name, password, ADMINISTRATOR)
        except SoapFault as fault:  # the reasons never quote the password
            raise ConfigError("ONVIF_AGENT_ADMIN: " + fault.reason)
        return name, password, ADMINISTRATOR

    def _check_new(self, name, password, level):
        if len(name) < MIN_NAME:
            raise _prohibited("UsernameTooShort", "the username is empty")
        if len(name) > self.max_name:
            raise _prohibited("UsernameTooLong",
                              "usernames have at most %d characters" % self.max_name)
        for c in name:
            code = ord(c)
            if c == ":" or code < 0x20 or 0x7F <= code < 0xA0:
                raise sender("InvalidArgVal",
                             reason="usernames may not contain ':' or control characters")
        _check_level(level)
        self._check_password(password)

    def _check_password(self, password):
        if password is None or len(password) < self.min_password:
            raise _prohibited("PasswordTooWeak",
                              "passwords have at least %d characters" % self.min_password)
        if len(password) > self.max_password:
            raise _prohibited("PasswordTooLong",
                              "passwords have at most %d characters" % self.max_password)

    def _keep_admin(self, users, what):
        """Our rule (checklist 8.5): the last Administrator stays, or nobody could manage users."""
        if _has_admin(self._users) and not _has_admin(users):
            raise SoapFault("Sender", "OperationProhibited",
                            reason="the last Administrator cannot be " + what)

    def _commit(self, users):
        """Persist first: a failed write leaves both the file and the users as they were."""
        if self.path:
            data = json.dumps({"users": [{"name": name, "password": password, "level": level}
                                         for name, password, level in users]})
            write_atomic(self.path, data.encode(), mode=0o600)
        self._users = users
        self._retire_initial_password()

    def _retire_initial_password(self):
        """The first-start password file goes once that password no longer opens the account:
        a stale copy of a secret is only a liability."""
        if not self.path:
            return
        path = self.path.rsplit("/", 1)[0] + "/" + INITIAL_PASSWORD_FILE
        try:
            with open(path) as f:
                kept = f.read().strip()
        except OSError:
            return
        entry = self.lookup(DEFAULT_ADMIN)
        if entry is None or entry[0] != kept:
            os.remove(path)


def _parse(data):
    """The users of a users.json document; ValueError/TypeError/KeyError if it is not one."""
    document = json.loads(data)
    if not isinstance(document, dict) or not isinstance(document.get("users"), list):
        raise ValueError("no user list")
    users = []
    for entry in document["users"]:
        user = (entry["name"], entry["password"], entry["level"])
        if not (isinstance(user[0], str) and isinstance(user[1], str) and user[2] in LEVELS):
            raise ValueError("malformed user entry")
        if _index(users, user[0]) >= 0:
            raise ValueError("duplicate user")
        users.append(user)
    return users
