"""Topic filters of a subscription: which topics a client asked for (checklist 10.8).

Two dialects are understood: WS-Topics Concrete (exactly one topic path) and ONVIF ConcreteSet
(`TopicPath ('|' TopicPath)*`, a trailing `//.` selecting a whole subtree). Topic paths are
compared as local names under the ONVIF topic namespace `tns1`, the only namespace our topics
live in; the prefixes of an expression resolve through the namespaces in scope on the
TopicExpression element (`nsmap`), whatever the prefixes are called.

The expression is split on '|' and '/' and every name checked with is_ncname: no regular
expression, no recursion, and bounded by MAX_LENGTH, MAX_PATHS and MAX_SEGMENTS.
"""

from .bus import TNS1
from .topics import CONCRETE, TOPIC_DIALECTS
from .wsnfaults import wsn_fault
from .xmlparse import is_ncname


MAX_LENGTH = 1024   # characters of one expression; ours are ~30, a full ConcreteSet of all ~300
MAX_PATHS = 32      # '|'-separated paths of a ConcreteSet
MAX_SEGMENTS = 16   # names in one path; ONVIF topics are 2-4 deep

SUBTREE = "//."     # ConcreteSet: the topic and all its descendants
_SPACE = " \t\r\n"  # XML whitespace, the only kind tolerated around paths


class TopicFilter:
    """The topic paths of one expression that lie in the ONVIF namespace, e.g. "Device/Trigger"
    with `subtree` True for "tns1:Device/Trigger//."."""

    def __init__(self, paths):
        self.paths = paths  # [(path, subtree)]

    def matches(self, topic):
        """Whether topic path `topic` (e.g. "Device/Trigger/Relay") is selected."""
        for path, subtree in self.paths:
            if topic == path or subtree and topic.startswith(path + "/"):
                return True
        return False

    def __repr__(self):
        return "<TopicFilter %s>" % "|".join(p + SUBTREE if s else p for p, s in self.paths)


def parse_topic_expression(text, dialect, nsmap, topics, now):
    """The TopicFilter of a TopicExpression's text, or raise the WS-BN fault (Timestamp `now`).

    `dialect` is its Dialect attribute; `topics` lists the device's topic paths under tns1.
    Unknown dialect: TopicExpressionDialectUnknownFault; bad syntax, an undeclared prefix or a
    bound exceeded: InvalidTopicExpressionFault; well formed but selecting none of `topics`
    (including paths in another namespace): TopicNotSupportedFault.
    """
    dialect = dialect.strip(_SPACE)  # xs:anyURI collapses whitespace
    if dialect not in TOPIC_DIALECTS:
        raise wsn_fault("TopicExpressionDialectUnknownFault",
                        "topic expression dialect not supported", now)

    def invalid(reason):
        return wsn_fault("InvalidTopicExpressionFault", "invalid topic expression: " + reason, now)

    if len(text) > MAX_LENGTH:
        raise invalid("longer than %d characters" % MAX_LENGTH)
    pieces = text.split("|")
    if len(pieces) > 1 and dialect == CONCRETE:
        raise invalid("the Concrete dialect takes a single topic path")
    if len(pieces) > MAX_PATHS:
        raise invalid("more than %d topic paths" % MAX_PATHS)
    paths = []
    for piece in pieces:
        piece = piece.strip(_SPACE)
        subtree = piece.endswith(SUBTREE)
        if subtree:
            if dialect == CONCRETE:
                raise invalid("the Concrete dialect has no '//.'")
            piece = piece[:-len(SUBTREE)]
        path, error = _resolve_path(piece, nsmap)
        if error:
            raise invalid(error)
        if path is not None:
            paths.append((path, subtree))
    selection = TopicFilter(paths)
    for topic in topics:
        if selection.matches(topic):
            return selection
    raise wsn_fault("TopicNotSupportedFault", "no topic of this device matches the expression", now)


def _resolve_path(piece, nsmap):
    """(path of local names, None) for a TopicPath without `//.`, (None, None) when it lies
    outside tns1, or (None, why) when it is malformed.

    The root is a QName, an unprefixed one in the default namespace (XML Schema QName rules);
    a child is a QName or an NCName, which stays in its parent's namespace.
    """
    segments = piece.split("/")
    if len(segments) > MAX_SEGMENTS:
        return None, "more than %d names in a topic path" % MAX_SEGMENTS
    ns = nsmap.get("", "")
    ours = True
    names = []
    for segment in segments:
        prefix, colon, local = segment.rpartition(":")
        if not is_ncname(local) or colon and not is_ncname(prefix):
            return None, "a topic name is not a QName" if segment else "empty topic name"
        if colon:
            ns = nsmap.get(prefix)
            if ns is None:
                return None, "undeclared prefix " + prefix
        ours = ours and ns == TNS1
        names.append(local)
    return "/".join(names) if ours else None, None
