"""Message content filters of a subscription: the ONVIF ItemFilter dialect (checklist 10.7).

The dialect is a tiny subset of XPath 1.0 that tests the SimpleItems of a message, e.g.
`boolean(//tt:SimpleItem[@Name="InputToken" and @Value="IN1"]) and not(...)`. Rather than an
XPath engine we parse exactly the checklist's grammar into a small tree and evaluate it against
bus Messages: any other expression is refused with InvalidMessageContentExpressionFault, and so
is an unknown dialect (WS-BN names no better fault: InvalidFilterFault is for filter elements
it does not understand, and it lists their QNames).

Prefixes: `tt:SimpleItem` may use any prefix bound to the ONVIF schema namespace in the
MessageContent element's scope; a prefix bound elsewhere or undeclared is refused. Without a
prefix (`//SimpleItem`), which the grammar allows, the name means the ONVIF item (strict XPath
1.0 would look in no namespace and match nothing, which helps no client).

The parser is hand-written recursive descent over a byte scan (no eval, no regular expression),
bounded by MAX_LENGTH characters and MAX_DEPTH nested groups, so hostile input costs a fault,
never a RecursionError.
"""

from .topics import ITEM_FILTER
from .wsnfaults import wsn_fault
from .xmlparse import is_ncname

TT = "http://www.onvif.org/ver10/schema"

MAX_LENGTH = 1024  # characters of one expression; real filters are under 200
MAX_DEPTH = 16     # nested '(', 'not(', 'boolean(' and '[': real filters nest 3 or 4

SIMPLE_ITEM = "SimpleItem"
ELEMENT_ITEM = "ElementItem"

# Tree nodes: (_OR, [nodes]), (_AND, [nodes]), (_NOT, node), (_ITEMS, kind, attribute test),
# (_ATTR, "Name" or "Value", string).
_OR = 1
_AND = 2
_NOT = 3
_ITEMS = 4
_ATTR = 5

_NAME = "name"      # token kinds besides the punctuation itself: "(", ")", "[", "]", "=", "@", "//"
_STRING = "string"
_END = "end"
_PUNCTUATION = b"()[]=@"
_DELIMITERS = _PUNCTUATION + b"/\"' \t\r\n"
_SPACE = b" \t\r\n"  # XPath 1.0 [39] ExprWhitespace


class ItemFilter:
    """A parsed ItemFilter expression; `matches(message)` evaluates it."""

    def __init__(self, tree):
        self.tree = tree

    def matches(self, message):
        """Whether bus Message `message` satisfies the expression: item tests look at the
        items of every group (Source and Data; the bus has no Key group)."""
        return _evaluate(self.tree, message.source + message.data, None)


def parse_item_filter(text, dialect, nsmap, now):
    """The ItemFilter of a MessageContent expression, or raise InvalidMessageContentExpressionFault
    (Timestamp `now`). `nsmap` holds the namespaces in scope on the MessageContent element."""
    def invalid(why):
        return wsn_fault("InvalidMessageContentExpressionFault", why, now)

    if dialect.strip(" \t\r\n") != ITEM_FILTER:  # xs:anyURI collapses whitespace
        raise invalid("message content filter dialect not supported")
    if len(text) > MAX_LENGTH:
        raise invalid("message content expression longer than %d characters" % MAX_LENGTH)
    try:
        parser = _Parser(_tokens(text.encode()), nsmap)
        tree = parser.expression(parser.boolean_call)
        parser.expect_end()
    except _Invalid as exc:
        raise invalid("invalid message content expression: %s at byte %d" % exc.args)
    return ItemFilter(tree)


class _Invalid(Exception):
    """(why, byte offset): the expression is outside the grammar."""


def _tokens(data):
    """[(kind, value, offset)] of an expression in UTF-8 `data`."""
    tokens = []
    i, end = 0, len(data)
    while i < end:
        c = data[i]
        if c in _SPACE:
            i += 1
        elif c in _PUNCTUATION:
            tokens.append((chr(c), None, i))
            i += 1
        elif c == 0x2F:  # '/': only '//' belongs to the grammar
            if data[i + 1:i + 2] != b"/":
                raise _Invalid("a single '/'", i)
            tokens.append(("//", None, i))
            i += 2
        elif c == 0x22 or c == 0x27:  # '"' or "'": a literal runs to the same quote, no escapes
            close = data.find(data[i:i + 1], i + 1)
            if close < 0:
                raise _Invalid("unterminated string", i)
            tokens.append((_STRING, data[i + 1:close].decode(), i))
            i = close + 1
        else:
            start = i
            while i < end and data[i] not in _DELIMITERS:
                i += 1
            tokens.append((_NAME, data[start:i].decode(), start))
    tokens.append((_END, None, end))
    return tokens


def _describe(kind):
    return "a " + kind if kind in (_NAME, _STRING) else "'%s'" % kind


class _Parser:
    """Recursive descent over the tokens of the checklist 10.7 grammar; `depth` counts the
    groups currently open, so recursion stops at MAX_DEPTH."""

    def __init__(self, tokens, nsmap):
        self.tokens = tokens
        self.pos = 0
        self.nsmap = nsmap
        self.depth = 0

    def peek(self):
        return self.tokens[self.pos]

    def take(self, kind, value=None):
        """The next token if it is `kind` (with `value`, for names), else None."""
        token = self.tokens[self.pos]
        if token[0] == kind and (value is None or token[1] == value):
            self.pos += 1
            return token
        return None

    def expect(self, kind, value=None):
        token = self.take(kind, value)
        if token is None:
            raise _Invalid("expected " + (value or _describe(kind)), self.peek()[2])
        return token

    def expect_end(self):
        token = self.peek()
        if token[0] != _END:
            raise _Invalid("more after the expression", token[2])

    def expression(self, primary):
        """Expression or AttrExpr, by `primary`: 'or' of 'and' of factors ('and' binds tighter;
        both are associative, so the n-ary lists keep the left-to-right meaning)."""
        terms = [self.conjunction(primary)]
        while self.take(_NAME, "or"):
            terms.append(self.conjunction(primary))
        return terms[0] if len(terms) == 1 else (_OR, terms)

    def conjunction(self, primary):
        factors = [self.factor(primary)]
        while self.take(_NAME, "and"):
            factors.append(self.factor(primary))
        return factors[0] if len(factors) == 1 else (_AND, factors)

    def factor(self, primary):
        """'(' E ')' | 'not' '(' E ')' | primary."""
        if self.take("("):
            return self.group(lambda: self.expression(primary), ")")
        if self.take(_NAME, "not"):
            self.expect("(")
            return (_NOT, self.group(lambda: self.expression(primary), ")"))
        return primary()

    def group(self, parse, closer):
        """`parse()` inside a bracket just opened, then its `closer`."""
        if self.depth == MAX_DEPTH:
            raise _Invalid("nested deeper than %d" % MAX_DEPTH, self.peek()[2])
        self.depth += 1
        node = parse()
        self.expect(closer)
        self.depth -= 1
        return node

    def boolean_call(self):
        """BoolExpr := 'boolean' '(' PathExpr ')'."""
        self.expect(_NAME, "boolean")
        self.expect("(")
        return self.group(self.path, ")")

    def path(self):
        """PathExpr := '//' Prefix? ('SimpleItem' | 'ElementItem') '[' AttrExpr ']'."""
        self.expect("//")
        token = self.expect(_NAME)
        prefix, colon, local = token[1].rpartition(":")
        if local not in (SIMPLE_ITEM, ELEMENT_ITEM) or colon and not is_ncname(prefix):
            raise _Invalid("expected SimpleItem or ElementItem", token[2])
        if colon and self.nsmap.get(prefix) != TT:
            if prefix in self.nsmap:
                raise _Invalid("prefix %s is not bound to %s" % (prefix, TT), token[2])
            raise _Invalid("undeclared prefix " + prefix, token[2])
        self.expect("[")
        return (_ITEMS, local, self.group(lambda: self.expression(self.attribute_test), "]"))

    def attribute_test(self):
        """AttrComp := ('@Name' | '@Value') '=' String."""
        self.expect("@")
        token = self.expect(_NAME)
        if token[1] not in ("Name", "Value"):
            raise _Invalid("expected Name or Value", token[2])
        self.expect("=")
        return (_ATTR, token[1], self.expect(_STRING)[1])


def _evaluate(node, items, item):
    """The truth of `node` for a message with items `items` ((name, value) pairs: a text value
    is a SimpleItem, any other an ElementItem); `item` is the item an attribute test inside a
    predicate looks at (an ElementItem has a Name and no Value attribute)."""
    op = node[0]
    if op == _ATTR:  # an ElementItem's (element, children) value equals no string
        return item[0 if node[1] == "Name" else 1] == node[2]
    if op == _ITEMS:
        simple = node[1] == SIMPLE_ITEM
        for each in items:
            if isinstance(each[1], str) == simple and _evaluate(node[2], items, each):
                return True
        return False
    if op == _NOT:
        return not _evaluate(node[1], items, item)
    for child in node[1]:
        if _evaluate(child, items, item) == (op == _OR):
            return op == _OR
    return op == _AND
