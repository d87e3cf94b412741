"""The agent's small error taxonomy (modelled on h11): who is at fault, and what to answer."""


class Sentinel:
    """A named marker a sans-IO parser returns instead of an event (e.g. NEED_DATA)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


class AgentError(Exception):
    """Root of every error the agent raises on purpose."""


class RemoteProtocolError(AgentError):
    """The peer sent something we refuse.

    `status` is the HTTP status to answer when no SOAP message could be read (checklist Table 6);
    `subcode` is the `ter:` subcode local name for a SOAP fault (Table 5), or None.
    `position` is a byte offset into the peer's input where one is known.
    """

    def __init__(self, message, status=400, subcode=None, position=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.subcode = subcode
        self.position = position

    def __str__(self):
        if self.position is None:
            return self.message
        return "%s at byte %d" % (self.message, self.position)


class LocalProtocolError(AgentError):
    """We misused a sans-IO object (a bug of ours, never the peer's)."""


class ConfigError(AgentError):
    """A board file, a command-line option or a stored setting is unusable."""


class ConsumerRefused(Exception):
    """A Notify consumer address the agent will not send to (agent.notify); str() is the
    one-line reason. Here, not in agent.notify, so the event service can catch it without
    loading the Notify sender before the first push subscription."""
