"""The user database (agent/users.py): limits, faults, all-or-nothing, persistence, first start."""

import json
import os
import unittest

from agent import log
from agent.errors import ConfigError
from agent.soap import SoapFault
from agent.users import (ADMINISTRATOR, FILENAME, GENERATED_LENGTH, INITIAL_PASSWORD_FILE,
                         MAX_NAME, MAX_PASSWORD, MAX_USERS, MIN_PASSWORD, OPERATOR, USER, Users,
                         write_initial_password)
from tests.support import Quiet, exists, remove_tree, scratch_dir

PW = "correct horse"  # a valid password
UNAMBIGUOUS = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
# CPython only: MicroPython's filesystems have no permission bits, so the mode checks skip there.
CHMOD = getattr(os, "chmod", None)


class Lines:
    """A log stream that keeps what is written."""

    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s


def mode_of(path):
    return os.stat(path)[0] & 0o777


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.path = self.dir + "/" + FILENAME
        log.set_stream(Quiet())

    def tearDown(self):
        log.set_stream(None)
        remove_tree(self.dir)

    def fault(self, call, *args):
        """(code, [subcode local names]) of the SoapFault `call(*args)` raises."""
        with self.assertRaises(SoapFault) as ctx:
            call(*args)
        return ctx.exception.code, [local for _, local in ctx.exception.subcodes]

    def file_bytes(self):
        with open(self.path, "rb") as f:
            return f.read()

    def admin_and_user(self):
        users = Users(self.dir)
        users.create([("root", PW, ADMINISTRATOR), ("bob", PW, USER)])
        return users


class CreateTest(Base):
    def test_lengths_at_the_bound_and_one_past(self):
        users = Users(self.dir)
        users.create([("n" * MAX_NAME, "p" * MAX_PASSWORD, USER),
                      ("m", "q" * MIN_PASSWORD, OPERATOR)])
        self.assertEqual(users.list(), [("n" * MAX_NAME, USER), ("m", OPERATOR)])
        prohibited = ("Sender", ["OperationProhibited"])
        cases = (("x" * (MAX_NAME + 1), PW, "UsernameTooLong"),
                 ("", PW, "UsernameTooShort"),
                 ("x", "p" * (MAX_PASSWORD + 1), "PasswordTooLong"),
                 ("x", "p" * (MIN_PASSWORD - 1), "PasswordTooWeak"),
                 ("x", "", "PasswordTooWeak"),
                 ("x", None, "PasswordTooWeak"))
        for name, password, subcode in cases:
            self.assertEqual(self.fault(users.create, [(name, password, USER)]),
                             (prohibited[0], prohibited[1] + [subcode]), subcode)

    def test_limits_are_the_constructor_arguments(self):
        users = Users(max_users=2, max_name=4, max_password=10, min_password=3)
        users.create([("abcd", "abc", USER), ("e", "p" * 10, USER)])
        self.assertEqual(self.fault(users.create, [("f", "abc", USER)]),
                         ("Receiver", ["Action", "TooManyUsers"]))
        users = Users(max_name=4, max_password=10, min_password=3)
        for name, password, subcode in (("abcde", "abc", "UsernameTooLong"),
                                        ("a", "ab", "PasswordTooWeak"),
                                        ("a", "p" * 11, "PasswordTooLong")):
            self.assertEqual(self.fault(users.create, [(name, password, USER)]),
                             ("Sender", ["OperationProhibited", subcode]))

    def test_max_users_exactly_and_one_more(self):
        users = Users(self.dir)
        users.create([("u%d" % i, PW, USER) for i in range(MAX_USERS - 1)])
        users.create([("last", PW, USER)])
        self.assertEqual(len(users.list()), MAX_USERS)
        self.assertEqual(self.fault(users.create, [("more", PW, USER)]),
                         ("Receiver", ["Action", "TooManyUsers"]))
        # a batch that would pass the limit creates nothing
        users = Users()
        users.create([("u%d" % i, PW, USER) for i in range(MAX_USERS - 2)])
        self.assertEqual(self.fault(users.create, [("a", PW, USER), ("b", PW, USER),
                                                   ("c", PW, USER)]),
                         ("Receiver", ["Action", "TooManyUsers"]))
        self.assertEqual(len(users.list()), MAX_USERS - 2)

    def test_username_clash_with_an_existing_user_or_within_the_request(self):
        users = self.admin_and_user()
        clash = ("Sender", ["OperationProhibited", "UsernameClash"])
        self.assertEqual(self.fault(users.create, [("bob", PW, USER)]), clash)
        self.assertEqual(self.fault(users.create, [("amy", PW, USER), ("amy", PW, OPERATOR)]),
                         clash)
        # names are compared exactly
        users.create([("Bob", PW, USER)])
        self.assertEqual(users.lookup("Bob"), (PW, USER))

    def test_levels(self):
        users = Users()
        self.assertEqual(self.fault(users.create, [("a", PW, "Anonymous")]),
                         ("Sender", ["OperationProhibited", "AnonymousNotAllowed"]))
        for level in ("Extended", "Root", "administrator", ""):
            self.assertEqual(self.fault(users.create, [("a", PW, level)]),
                             ("Sender", ["InvalidArgVal"]), level)
        users.create([("a", PW, ADMINISTRATOR), ("b", PW, OPERATOR), ("c", PW, USER)])
        self.assertEqual(users.list(), [("a", ADMINISTRATOR), ("b", OPERATOR), ("c", USER)])

    def test_username_characters(self):
        users = Users()
        for name in ("a:b", ":", "a\x01", "tab\there", "new\nline", "del\x7f", "c1\x85"):
            self.assertEqual(self.fault(users.create, [(name, PW, USER)]),
                             ("Sender", ["InvalidArgVal"]), repr(name))
        names = ("J\u00fcrgen", "a b", "x@example.com", "<&'\">", "\u6771\u4eac")
        users.create([(name, PW, USER) for name in names])
        self.assertEqual([n for n, _ in users.list()], list(names))

    def test_passwords_may_hold_anything(self):
        users = Users(self.dir)
        password = "p:a s\u00e4\u20ac\U0001f511 '\"<&"
        users.create([("a", password, ADMINISTRATOR)])
        self.assertEqual(Users(self.dir).lookup("a"), (password, ADMINISTRATOR))

    def test_a_batch_with_one_bad_entry_changes_nothing_in_memory_or_on_disk(self):
        users = self.admin_and_user()
        before = self.file_bytes()
        bad_batches = (
            [("ok1", PW, USER), ("bad", "short", USER)],
            [("ok1", PW, USER), ("bob", PW, USER)],
            [("ok1", PW, USER), ("x" * (MAX_NAME + 1), PW, USER)],
            [("ok1", PW, USER), ("ok2", PW, "Anonymous")],
        )
        for batch in bad_batches:
            with self.assertRaises(SoapFault):
                users.create(batch)
            self.assertEqual(users.list(), [("root", ADMINISTRATOR), ("bob", USER)])
            self.assertIsNone(users.lookup("ok1"))
            self.assertEqual(self.file_bytes(), before)
        self.assertEqual(Users(self.dir).list(), users.list())

    def test_a_failed_write_changes_nothing(self):
        users = self.admin_and_user()
        remove_tree(self.dir)
        with self.assertRaises(OSError):
            users.create([("amy", PW, USER)])
        self.assertEqual(users.list(), [("root", ADMINISTRATOR), ("bob", USER)])
        os.mkdir(self.dir)  # for tearDown


class DeleteTest(Base):
    def test_delete_and_unknown_names(self):
        users = self.admin_and_user()
        users.create([("amy", PW, OPERATOR)])
        before = self.file_bytes()
        missing = ("Sender", ["InvalidArgVal", "UsernameMissing"])
        self.assertEqual(self.fault(users.delete, ["nobody"]), missing)
        self.assertEqual(self.fault(users.delete, ["bob", "nobody"]), missing)
        self.assertEqual(self.fault(users.delete, ["bob", "bob"]), ("Sender", ["InvalidArgVal"]))
        self.assertEqual(self.file_bytes(), before)
        self.assertEqual(len(users.list()), 3)
        users.delete(["bob", "amy"])
        self.assertEqual(users.list(), [("root", ADMINISTRATOR)])
        self.assertIsNone(users.lookup("bob"))
        self.assertEqual(Users(self.dir).list(), [("root", ADMINISTRATOR)])

    def test_the_last_administrator_stays(self):
        users = self.admin_and_user()
        last = ("Sender", ["OperationProhibited"])
        self.assertEqual(self.fault(users.delete, ["root"]), last)
        self.assertEqual(self.fault(users.delete, ["bob", "root"]), last)
        self.assertEqual(len(users.list()), 2)
        users.create([("root2", PW, ADMINISTRATOR)])
        users.delete(["root"])
        self.assertEqual(self.fault(users.delete, ["root2"]), last)

    def test_without_any_administrator_other_users_can_be_managed(self):
        users = Users()
        users.create([("a", PW, USER), ("b", PW, OPERATOR)])
        users.delete(["a"])
        users.update([("b", PW, USER)])
        self.assertEqual(users.list(), [("b", USER)])


class UpdateTest(Base):
    def test_password_and_level_change_and_persist(self):
        users = self.admin_and_user()
        users.update([("bob", "new password", OPERATOR)])
        self.assertEqual(users.lookup("bob"), ("new password", OPERATOR))
        self.assertEqual(Users(self.dir).lookup("bob"), ("new password", OPERATOR))
        self.assertEqual(users.list(), [("root", ADMINISTRATOR), ("bob", OPERATOR)])

    def test_faults_change_nothing(self):
        users = self.admin_and_user()
        before = self.file_bytes()
        cases = (
            ([("nobody", PW, USER)], ("Sender", ["InvalidArgVal", "UsernameMissing"])),
            ([("bob", PW, USER), ("nobody", PW, USER)],
             ("Sender", ["InvalidArgVal", "UsernameMissing"])),
            ([("bob", None, USER)], ("Sender", ["OperationProhibited", "PasswordTooWeak"])),
            ([("bob", "p" * (MIN_PASSWORD - 1), USER)],
             ("Sender", ["OperationProhibited", "PasswordTooWeak"])),
            ([("bob", "p" * (MAX_PASSWORD + 1), USER)],
             ("Sender", ["OperationProhibited", "PasswordTooLong"])),
            ([("bob", PW, "Anonymous")],
             ("Sender", ["OperationProhibited", "AnonymousNotAllowed"])),
            ([("bob", PW, "Extended")], ("Sender", ["InvalidArgVal"])),
            ([("bob", PW, USER), ("bob", "other one", USER)], ("Sender", ["InvalidArgVal"])),
            ([("root", PW, OPERATOR)], ("Sender", ["OperationProhibited"])),
        )
        for entries, expected in cases:
            self.assertEqual(self.fault(users.update, entries), expected, repr(entries))
            self.assertEqual(self.file_bytes(), before)
            self.assertEqual(users.lookup("bob"), (PW, USER))
            self.assertEqual(users.lookup("root"), (PW, ADMINISTRATOR))
        users.update([("bob", "p" * MAX_PASSWORD, USER)])
        users.update([("bob", "p" * MIN_PASSWORD, USER)])

    def test_demoting_one_administrator_while_promoting_another(self):
        users = self.admin_and_user()
        users.update([("root", PW, USER), ("bob", PW, ADMINISTRATOR)])
        self.assertEqual(users.list(), [("root", USER), ("bob", ADMINISTRATOR)])


class PersistenceTest(Base):
    def test_round_trip_in_creation_order(self):
        users = Users(self.dir)
        names = ["zed", "amy", "mia", "bob"]
        users.create([(name, PW + name, USER) for name in names])
        again = Users(self.dir)
        self.assertEqual([n for n, _ in again.list()], names)
        for name in names:
            self.assertEqual(again.lookup(name), (PW + name, USER))
        self.assertFalse(exists(self.path + ".tmp"))

    def test_file_is_private_where_the_runtime_has_permissions(self):
        if CHMOD is None:
            self.skipTest("no permission bits on this runtime")
        users = Users(self.dir)
        users.create([("a", PW, ADMINISTRATOR)])
        self.assertEqual(mode_of(self.path), 0o600)
        # a leftover temporary file with a wider mode does not make the next one readable
        with open(self.path + ".tmp", "wb") as f:
            f.write(b"junk")
        CHMOD(self.path + ".tmp", 0o644)
        users.create([("b", PW, USER)])
        self.assertEqual(mode_of(self.path), 0o600)

    def test_in_memory_users_touch_no_file(self):
        users = Users()
        users.create([("a", PW, ADMINISTRATOR)])
        self.assertEqual(os.listdir(self.dir), [])

    def test_a_corrupt_file_is_moved_aside_loudly_and_ensure_admin_applies_again(self):
        junks = (b"{not json", b"[1, 2]", b"\xff\xfe", b'{"users": 3}',
                 b'{"users": [{"name": "a", "password": "x"}]}',
                 b'{"users": [{"name": "a", "password": "secret-pw", "level": "Anonymous"}]}',
                 b'{"users": [{"name": 1, "password": "x", "level": "User"}]}',
                 b'{"users": ["a"]}',
                 b'{"users": [{"name": "a", "password": "secret-pw", "level": "User"},'
                 b' {"name": "a", "password": "secret-pw", "level": "User"}]}')
        for junk in junks:
            with open(self.path, "wb") as f:
                f.write(junk)
            lines = Lines()
            log.set_stream(lines)
            users = Users(self.dir)
            self.assertEqual(users.list(), [], junk)
            self.assertTrue("ERROR" in lines.text and FILENAME in lines.text, lines.text)
            self.assertFalse("secret-pw" in lines.text)
            with open(self.path + ".corrupt", "rb") as f:
                self.assertEqual(f.read(), junk)
            self.assertFalse(exists(self.path))
            self.assertTrue(users.ensure_admin())
            self.assertEqual(Users(self.dir).list(), [("admin", ADMINISTRATOR)])
            os.remove(self.path)

    def test_file_format(self):
        Users(self.dir).create([("a", PW, ADMINISTRATOR)])
        self.assertEqual(json.loads(self.file_bytes()),
                         {"users": [{"name": "a", "password": PW, "level": ADMINISTRATOR}]})


class EnsureAdminTest(Base):
    def test_generated_password_on_first_start_only(self):
        users = Users(self.dir)
        password = users.ensure_admin()
        self.assertTrue(len(password) >= 16)
        self.assertEqual(len(password), GENERATED_LENGTH)
        for c in password:
            self.assertIn(c, UNAMBIGUOUS)
        self.assertEqual(users.lookup("admin"), (password, ADMINISTRATOR))
        self.assertIsNone(users.ensure_admin())
        self.assertIsNone(Users(self.dir).ensure_admin())
        self.assertEqual(Users(self.dir).lookup("admin"), (password, ADMINISTRATOR))
        self.assertNotEqual(Users().ensure_admin(), Users().ensure_admin())

    def test_from_the_spec(self):
        users = Users(self.dir)
        self.assertIsNone(users.ensure_admin("root:pass:with:colons"))
        self.assertEqual(users.list(), [("root", ADMINISTRATOR)])
        self.assertEqual(Users(self.dir).lookup("root"), ("pass:with:colons", ADMINISTRATOR))

    def test_an_empty_spec_is_no_spec(self):
        users = Users()
        self.assertTrue(users.ensure_admin(""))
        self.assertEqual(users.list(), [("admin", ADMINISTRATOR)])

    def test_a_bad_spec_is_a_config_error_that_never_shows_the_password(self):
        cases = ("nocolon-secret-pw", ":secret-pw", "root:short",
                 "root:" + "Q" * (MAX_PASSWORD + 1), "x" * (MAX_NAME + 1) + ":secret-pw",
                 "ro\x01ot:secret-pw")
        for spec in cases:
            users = Users(self.dir)
            with self.assertRaises(ConfigError) as ctx:
                users.ensure_admin(spec)
            message = str(ctx.exception)
            self.assertTrue(message.startswith("ONVIF_AGENT_ADMIN"), message)
            self.assertEqual(message.count("\n"), 0)
            self.assertFalse("secret-pw" in message or "short" in message or "QQ" in message,
                             message)
            self.assertEqual(users.list(), [])
        self.assertFalse(exists(self.path))

    def test_the_spec_is_checked_but_ignored_once_users_exist(self):
        users = self.admin_and_user()
        self.assertIsNone(users.ensure_admin("other:" + PW))
        self.assertIsNone(users.lookup("other"))
        with self.assertRaises(ConfigError):
            users.ensure_admin("other:short")

    def test_initial_password_file(self):
        path = write_initial_password(self.dir, "Abc23456789defghjkmn")
        self.assertEqual(path, self.dir + "/" + INITIAL_PASSWORD_FILE)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"Abc23456789defghjkmn\n")
        if CHMOD is not None:
            self.assertEqual(mode_of(path), 0o600)

    def test_initial_password_file_goes_once_the_password_changes(self):
        users = Users(self.dir)
        password = users.ensure_admin()
        path = write_initial_password(self.dir, password)
        users.create([("bob", PW, USER)])  # other changes keep it: it still opens "admin"
        self.assertTrue(exists(path))
        users.update([("admin", "N3w-admin-pw", ADMINISTRATOR)])
        self.assertFalse(exists(path))

    def test_initial_password_file_goes_with_its_user(self):
        users = Users(self.dir)
        path = write_initial_password(self.dir, users.ensure_admin())
        users.create([("root", PW, ADMINISTRATOR)])
        users.delete(["admin"])
        self.assertFalse(exists(path))
