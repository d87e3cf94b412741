"""The simulator's control socket and `onvif-agent sim ...`: a SimHal on a real loop, driven by
clients in a thread while the test runs the loop (CPython-only: Unix sockets, threads)."""

import contextlib
import io
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import unittest
from unittest import mock

from agent import log
from agent.loop import Loop
from hal.sim import MAX_CLIENTS, MAX_LINE, SOCKET_NAME, SimHal, control_main
from tests.support import Quiet

BOARD = {
    "name": "sim-control", "hal": "sim",
    "relays": [{"token": "R1"}, {"token": "R2", "contact": "NC"}],
    "inputs": [{"token": "IN1", "debounce_ms": 30}, {"token": "IN2"}],
}


class ControlTest(unittest.TestCase):
    def setUp(self):
        log.set_stream(Quiet())
        self.state_dir = tempfile.mkdtemp()
        self.path = self.state_dir + "/" + SOCKET_NAME
        self.loop = Loop()
        self.hal = SimHal(BOARD, self.loop, self.state_dir)
        self.changes = []
        for line in self.hal.inputs:
            line.listener = (lambda token: lambda closed: self.changes.append((token, closed)))(
                line.token)
        self.hal.start()
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()
        self.hal.close()
        self.loop.close()
        shutil.rmtree(self.state_dir)
        log.set_stream(None)

    # -- helpers -------------------------------------------------------------------------------

    def run_loop_while(self, busy, seconds=5):
        deadline = time.monotonic() + seconds
        while busy() and time.monotonic() < deadline:
            self.loop.run_once(5)

    def in_thread(self, call):
        """`call()` run in a thread while this thread runs the loop; its result."""
        outcome = []
        worker = threading.Thread(target=lambda: outcome.append(call()))
        worker.start()
        self.run_loop_while(worker.is_alive)
        worker.join(1)
        self.assertEqual(len(outcome), 1, "the call did not finish")
        return outcome[0]

    def connect(self, accepted=True):
        """A client connection; with `accepted`, once the agent serves it."""
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(5)
        client.connect(self.path)
        self.clients.append(client)
        if accepted:
            served = len(self.hal.control.clients) + 1
            self.run_loop_while(lambda: len(self.hal.control.clients) < served, 2)
            self.assertEqual(len(self.hal.control.clients), served)
        return client

    def converse(self, client, data, lines=1):
        """Send `data`, run the loop until `lines` reply lines came back; the text received."""
        client.sendall(data)
        received = b""
        deadline = time.monotonic() + 5
        client.setblocking(False)
        while received.count(b"\n") < lines and time.monotonic() < deadline:
            self.loop.run_once(5)
            try:
                received += client.recv(4096)
            except BlockingIOError:
                pass
        client.settimeout(5)
        return received.decode()

    def closed_by_agent(self, client):
        """True when the agent closed `client`'s connection (EOF, or a reset for unread bytes)."""
        self.run_loop_while(lambda: len(self.hal.control.clients) == len(self.clients), 1)
        try:
            rest = client.recv(4096)
        except ConnectionResetError:
            return True
        return rest == b""

    def control(self, *args):
        """control_main(args) in a thread: (exit status, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()

        def call():
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                return control_main(list(args))
        status = self.in_thread(call)
        return status, out.getvalue(), err.getvalue()

    # -- the socket ----------------------------------------------------------------------------

    def test_the_socket_is_the_owners_only(self):
        mode = os.stat(self.path).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assertEqual(self.hal.control_path, self.path)

    def test_state_reports_every_contact(self):
        client = self.connect()
        self.assertEqual(self.converse(client, b"state\n"), "IN1=open IN2=open R1=open R2=closed\n")
        self.hal.relays[0].set_closed(True)
        self.hal.inputs[1].set(True)
        self.assertEqual(self.converse(client, b"state\r\n"),
                         "IN1=open IN2=closed R1=closed R2=closed\n")

    def test_an_input_command_reaches_the_listener_after_the_debounce(self):
        client = self.connect()
        started = time.monotonic()
        self.assertEqual(self.converse(client, b"input IN1 closed\n"), "ok\n")
        self.assertTrue(self.hal.inputs[0].read())
        if time.monotonic() - started < 0.025:  # still inside IN1's 30 ms debounce
            self.assertEqual(self.changes, [])
        self.run_loop_while(lambda: not self.changes, 2)
        self.assertEqual(self.changes, [("IN1", True)])
        # 29: the loop's clock counts whole milliseconds
        self.assertTrue(time.monotonic() - started >= 0.029, "reported before it settled")
        self.assertEqual(self.converse(client, b"input IN1 open\ninput IN2 closed\n", 2),
                         "ok\nok\n")
        self.run_loop_while(lambda: len(self.changes) < 3, 2)
        self.assertEqual(sorted(self.changes[1:]), [("IN1", False), ("IN2", True)])

    def test_bad_commands_are_errors_and_the_connection_stays(self):
        client = self.connect()
        for command, why in ((b"input IN9 closed", "IN9"), (b"input IN1 shut", "shut"),
                             (b"input IN1", "usage"), (b"input IN1 closed now", "usage"),
                             (b"relay R1 closed", "relay"), (b"state now", "state now"),
                             (b"", "empty"), (b"\xff\xfe", "unknown command")):
            reply = self.converse(client, command + b"\n")
            self.assertTrue(reply.startswith("error: ") and reply.endswith("\n"), reply)
            self.assertTrue(why in reply, (why, reply))
            self.assertEqual(reply.count("\n"), 1)
        self.assertEqual(self.hal.inputs[0].read(), False, "nothing changed")
        self.assertEqual(self.converse(client, b"state\n"), "IN1=open IN2=open R1=open R2=closed\n")

    def test_an_overlong_line_is_refused_and_the_connection_closed(self):
        client = self.connect()
        longest = b"input IN1 closed" + b" " * (MAX_LINE - 16)
        self.assertEqual(self.converse(client, longest + b"\n"), "ok\n")
        reply = self.converse(client, b"x" * (MAX_LINE + 1))  # no newline needed to refuse
        self.assertTrue(reply.startswith("error: line longer than"), reply)
        self.assertTrue(self.closed_by_agent(client))
        self.assertEqual(self.hal.control.clients, [])

    def test_a_flood_without_newlines_is_refused_too(self):
        client = self.connect()
        client.sendall(b"y" * 5000)
        self.run_loop_while(lambda: self.hal.control.clients, 2)
        self.assertEqual(self.hal.control.clients, [])
        self.assertTrue(client.recv(100).startswith(b"error: line longer than"))

    def test_the_number_of_clients_is_bounded(self):
        clients = [self.connect() for _ in range(MAX_CLIENTS)]
        extra = self.connect(accepted=False)
        self.assertEqual(self.converse(extra, b""), "error: too many clients\n")
        self.assertEqual(len(self.hal.control.clients), MAX_CLIENTS)
        self.assertEqual(extra.recv(100), b"")
        clients[0].close()
        self.run_loop_while(lambda: len(self.hal.control.clients) == MAX_CLIENTS, 2)
        self.assertEqual(self.converse(self.connect(), b"state\n").count("="), 4)

    def test_a_client_leaving_mid_line_is_forgotten(self):
        client = self.connect()
        client.sendall(b"input IN1 clo")
        client.close()
        self.run_loop_while(lambda: self.hal.control.clients, 2)
        self.assertEqual(self.hal.control.clients, [])
        self.assertEqual(self.hal.inputs[0].read(), False)

    def test_a_client_that_never_reads_is_dropped(self):
        client = self.connect()
        for _ in range(400):
            try:
                client.send(b"state\n" * 100)
            except OSError:
                break  # dropped already
            self.loop.run_once(0)
            if not self.hal.control.clients:
                break
        self.assertEqual(self.hal.control.clients, [])

    def test_close_removes_the_socket_and_hangs_up(self):
        client = self.connect()
        self.hal.close()
        self.assertFalse(os.path.exists(self.path))
        self.assertEqual(client.recv(100), b"")

    def test_a_stale_file_is_replaced(self):
        self.hal.close()
        with open(self.path, "w") as f:
            f.write("left over")
        self.hal = SimHal(BOARD, self.loop, self.state_dir)
        self.hal.start()
        self.assertTrue(stat.S_ISSOCK(os.stat(self.path).st_mode))
        self.assertEqual(self.converse(self.connect(), b"state\n").count("="), 4)

    def test_no_state_dir_no_socket(self):
        self.hal.close()
        self.hal = SimHal(BOARD, self.loop)
        self.hal.start()
        self.assertEqual((self.hal.control, self.hal.control_path), (None, None))
        self.assertEqual(os.listdir(self.state_dir), [])

    def test_an_unusable_path_leaves_the_simulator_running_without_control(self):
        self.hal.close()
        self.hal = SimHal(BOARD, self.loop, self.state_dir + "/" + "d" * 120)
        self.hal.start()  # AF_UNIX paths end at 108 bytes
        self.assertEqual((self.hal.control, self.hal.control_path), (None, None))
        self.hal.inputs[0].set(True)
        self.assertTrue(self.hal.inputs[0].read())

    def test_a_failed_start_leaves_no_file(self):
        self.hal.close()
        self.hal = SimHal(BOARD, self.loop, self.state_dir)
        with mock.patch("hal.sim.os.chmod", side_effect=PermissionError("refused")):
            self.hal.start()
        self.assertEqual((self.hal.control, self.hal.control_path), (None, None))
        self.assertEqual(os.listdir(self.state_dir), [])

    # -- onvif-agent sim ... -------------------------------------------------------------------

    def test_control_main_sets_an_input_and_prints_the_state(self):
        self.assertEqual(self.control("input", "IN2", "closed", "--state-dir", self.state_dir),
                         (0, "ok\n", ""))
        self.assertEqual(self.control("state", "--state-dir=" + self.state_dir),
                         (0, "IN1=open IN2=closed R1=open R2=closed\n", ""))
        self.run_loop_while(lambda: not self.changes, 2)
        self.assertEqual(self.changes, [("IN2", True)])

    def test_control_main_exits_1_when_the_agent_refuses(self):
        status, out, err = self.control("input", "IN7", "open", "--state-dir", self.state_dir)
        self.assertEqual(status, 1)
        self.assertTrue(out.startswith("error: unknown input 'IN7'"), out)
        self.assertEqual(err, "")

    def test_control_main_uses_the_clis_default_state_dir(self):
        home = self.state_dir + "/xdg"
        self.hal.close()
        self.hal = SimHal(BOARD, self.loop, home + "/onvif-agent")
        os.makedirs(home + "/onvif-agent")
        self.hal.start()
        with mock.patch.dict(os.environ, XDG_STATE_HOME=home), \
                mock.patch("agent.compat.is_root", return_value=False):
            self.assertEqual(self.control("state")[:2],
                             (0, "IN1=open IN2=open R1=open R2=closed\n"))

    def test_control_main_exits_2_when_no_agent_runs(self):
        empty = self.state_dir + "/nobody"
        os.mkdir(empty)
        status, out, err = self.control("state", "--state-dir", empty)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err.count("\n"), 1)
        self.assertTrue(err.startswith("onvif-agent sim: error: no agent is running"), err)
        # a socket file nobody listens on any more: refused, same answer
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(empty + "/" + SOCKET_NAME)
        stale.close()
        status, out, err = self.control("state", "--state-dir", empty)
        self.assertEqual(status, 2)
        self.assertTrue("no agent is running" in err, err)

    def test_control_main_exits_2_on_bad_arguments(self):
        for args in ((), ("input", "IN1"), ("input",), ("frob",), ("state", "now"),
                     ("state", "--state-dir"), ("state", "--verbose")):
            status, out, err = self.control(*args)
            self.assertEqual((status, out), (2, ""), args)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertTrue(err.startswith("onvif-agent sim: error: "), err)

    def test_control_main_help(self):
        status, out, err = self.control("--help")
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(out.startswith("usage: onvif-agent sim input TOKEN closed|open"))


if __name__ == "__main__":
    unittest.main()
