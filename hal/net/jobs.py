"""Blocking jobs run one after another, off the agent's loop (CPython).

A network change is a chain of commands (modify a connection, then bring it up) that may take
seconds; the loop must never wait for them (hal.base's rules), and two changes made in a row must
reach the system in the order they were asked for. So jobs queue here and one worker thread
drains the queue, then ends; the next job starts a new one. A failed job is logged, never raised:
the request that queued it has been answered already. Jobs never call the log themselves (it is
the loop's, like all agent state): they `note()` lines, which `report()` logs on the caller's
thread at the backend's next call.
"""

import collections
import threading

from agent import compat, log


class SerialJobs:
    """Jobs in submission order on a worker thread. `start(function)` runs `function` on a new
    thread (compat.start_thread); tests pass `lambda f: f()` to run every job at once."""

    def __init__(self, start=None):
        self._start = start or compat.start_thread
        self._jobs = collections.deque()
        self._idle = threading.Condition()
        self._running = False
        self._notes = collections.deque()  # appended by the worker, emptied by report()

    def note(self, level, fmt, *args):
        """Keep a log line (`level` is log.error, log.warning, ...) for report()."""
        self._notes.append((level, fmt, args))

    def report(self):
        """Log the lines jobs have noted so far; called on the loop thread."""
        while self._notes:
            level, fmt, args = self._notes.popleft()
            level(fmt, *args)

    def submit(self, job):
        with self._idle:
            self._jobs.append(job)
            if self._running:
                return
            self._running = True
        self._start(self._drain)

    def _drain(self):
        while True:
            with self._idle:
                if not self._jobs:
                    self._running = False
                    self._idle.notify_all()
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception as exc:  # a worker thread has nobody to raise to
                self.note(log.error, "network change failed: %r", exc)

    def wait(self, timeout):
        """Wait up to `timeout` seconds for the queued jobs (at shutdown, so a restart does not
        cut a change in half); True when none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._running, timeout)
