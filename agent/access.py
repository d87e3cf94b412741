"""Which access class each operation needs (checklist 5.5), read from the generated table.

agent/operations.py stores, per endpoint and namespace, one string of " Name=class" entries
(cheaper on a microcontroller's heap than a dict); these two functions are its only readers.
"""

from .operations import SERVICES


def access_class(endpoint, ns, name):
    """The access class of request element {ns}name at `endpoint`; None if no operation there."""
    ops = SERVICES[endpoint].get(ns)
    at = -1 if ops is None else ops.find(" " + name + "=")
    return None if at < 0 else int(ops[at + len(name) + 2])


def operations(endpoint):
    """Every (namespace, request element name, access class) of `endpoint`."""
    for ns, ops in SERVICES[endpoint].items():
        for entry in ops.split():
            name, _, access = entry.partition("=")
            yield ns, name, int(access)


# Table 7 (checklist 5.5): the access classes each user level may use; Anonymous is a caller
# without valid credentials.
ADMINISTRATOR, OPERATOR, USER, ANONYMOUS = "Administrator", "Operator", "User", "Anonymous"
_ALLOWED = (
    (ADMINISTRATOR, OPERATOR, USER, ANONYMOUS),  # PRE_AUTH
    (ADMINISTRATOR, OPERATOR, USER),             # READ_SYSTEM
    (ADMINISTRATOR, OPERATOR),                   # READ_SYSTEM_SENSITIVE
    (ADMINISTRATOR,),                            # READ_SYSTEM_SECRET
    (ADMINISTRATOR,),                            # WRITE_SYSTEM
    (ADMINISTRATOR,),                            # UNRECOVERABLE
    (ADMINISTRATOR, OPERATOR, USER),             # READ_MEDIA
    (ADMINISTRATOR, OPERATOR),                   # ACTUATE
)


def allowed(access, level):
    """Whether a user of `level` may call an operation of class `access` (Table 7)."""
    return level in _ALLOWED[access]
