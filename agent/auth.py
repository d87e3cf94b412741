"""Who is calling, and may they: the authentication flow of checklist 5.4, then Table 7.

1. PRE_AUTH operations are processed without looking at credentials at all (stale or wrong
   credentials never refuse them).
2. HTTP Digest, if sent, is verified first: failure is HTTP 401 with fresh challenges.
3. A WS-Security UsernameToken, if sent, is verified next: failure is HTTP 400
   env:Sender/ter:NotAuthorized.
4. Neither: HTTP 401 with the Digest challenges (the device supports both mechanisms).
5. The authenticated user's level must allow the operation's access class (Table 7), else
   env:Sender/ter:NotAuthorized (HTTP 400; the checklist's decision for insufficient level).
Repeated failures from one address lock it out for a while (HTTP 429), without blocking the loop.
"""

from . import log
from .access import allowed
from .digest import DigestFailure
from .errors import AgentError
from .operations import ACCESS_NAMES, PRE_AUTH
from .soap import SoapFault, sender
from .wsse import WSSE

# Lockout policy: enough failures for a person mistyping a password a few times and for a
# client retrying with stale nonces, few enough to make online guessing useless.
FAILURE_LIMIT = 10
FAILURE_WINDOW_S = 60
LOCKOUT_S = 60
MAX_TRACKED_PEERS = 256  # bounds the table under a spoofed-address flood


class Unauthorized(AgentError):
    """Answer HTTP 401 with these WWW-Authenticate headers (checklist 5.4)."""

    def __init__(self, headers):
        super().__init__("authentication required")
        self.headers = headers


class LockedOut(AgentError):
    """Answer HTTP 429: this address failed too often; `retry_after` seconds to wait."""

    def __init__(self, retry_after):
        super().__init__("too many authentication failures")
        self.retry_after = retry_after


class FailureLimiter:
    """Counts authentication failures per client address within a sliding window."""

    def __init__(self, clock, *, limit=FAILURE_LIMIT, window_s=FAILURE_WINDOW_S,
                 lockout_s=LOCKOUT_S, max_peers=MAX_TRACKED_PEERS):
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_peers = max_peers
        self.peers = {}  # address -> [first failure time, count, locked until]

    def locked_for(self, peer):
        """Seconds this address must still wait, or 0."""
        entry = self.peers.get(peer)
        if entry is None:
            return 0
        left = entry[2] - self.clock()
        return int(left) + 1 if left > 0 else 0

    def failed(self, peer):
        now = self.clock()
        entry = self.peers.get(peer)
        if entry is None or now - entry[0] > self.window_s:
            if entry is None and len(self.peers) >= self.max_peers:
                self._forget_oldest()
            entry = self.peers[peer] = [now, 0, 0]
        entry[1] += 1
        if entry[1] >= self.limit and entry[2] <= now:
            entry[2] = now + self.lockout_s
            log.warning("%s locked out for %d s after %d authentication failures",
                        peer, self.lockout_s, entry[1])

    def _forget_oldest(self):
        oldest = None
        for peer, entry in self.peers.items():
            if oldest is None or entry[0] < self.peers[oldest][0]:
                oldest = peer
        del self.peers[oldest]


class Policy:
    """The access policy the dispatcher consults for every operation."""

    def __init__(self, users, digest, wsse, limiter):
        self.users = users
        self.digest = digest
        self.wsse = wsse
        self.limiter = limiter

    def challenges(self):
        """WWW-Authenticate headers for an HTTP 401 (SHA-256 and MD5 Digest)."""
        return self.digest.challenges()

    def check(self, access, ctx):
        """Return the authenticated user name (None for PRE_AUTH) or raise what to answer."""
        if access == PRE_AUTH:
            return None
        peer = ctx.peer[0] if isinstance(ctx.peer, tuple) else ctx.peer
        wait = self.limiter.locked_for(peer)
        if wait:
            raise LockedOut(wait)
        request = ctx.request
        digest_user = None
        authorization = request.header("authorization")
        if authorization and authorization.lstrip()[:7].lower() == "digest ":
            try:
                digest_user = self.digest.verify(request.method, request.target, authorization)
            except DigestFailure as exc:
                if not exc.stale:  # an expired nonce is the normal protocol, not a failure
                    self._failed(peer, "HTTP Digest", exc.reason)
                raise Unauthorized(self.digest.challenges(stale=exc.stale))
        token_user = None
        # A plain HTTP resource (agent.app serve_resource) has no envelope: Digest only.
        security = None if ctx.envelope is None else ctx.envelope.header(WSSE, "Security")
        if security is not None:
            try:
                token_user = self.wsse.verify(security, secure_transport=ctx.scheme == "https")
            except SoapFault as fault:
                self._failed(peer, "UsernameToken", getattr(fault, "log_reason", fault.reason))
                raise
        if digest_user and token_user and digest_user != token_user:
            self._failed(peer, "credentials", "Digest and UsernameToken name different users")
            raise sender("NotAuthorized")
        user = token_user or digest_user
        if user is None:
            raise Unauthorized(self.challenges())
        ctx.user = user  # known from here: a Table 7 refusal is logged with its name
        entry = self.users.lookup(user)
        if entry is None or not allowed(access, entry[1]):
            log.info("%s (%s) may not call %s operations", user, entry and entry[1],
                     ACCESS_NAMES[access])
            raise sender("NotAuthorized")
        return user

    def _failed(self, peer, mechanism, reason):
        log.info("%s authentication failed from %s: %s", mechanism, peer, reason)
        self.limiter.failed(peer)
