"""The one single-threaded selector loop that owns every socket and timer.

`select.poll` exists on both runtimes. Nothing here sleeps or blocks except `poll()` itself,
bounded by the next timer. CPython's poll reports file descriptors and MicroPython's reports the
registered objects, so handlers are looked up under both keys.
Threads (a HAL's edge callbacks) never touch agent state: they hand a callback to
`call_soon_threadsafe`, which queues it and wakes the loop through a socket pair.
"""

import heapq
import select

from . import log
from .compat import monotonic_ms, print_exception, socketpair

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
POLLERR = select.POLLERR
POLLHUP = select.POLLHUP


class Timer:
    """A pending callback; `cancel()` makes the loop drop it when its time comes."""

    __slots__ = ("deadline", "callback", "cancelled")

    def __init__(self, deadline, callback):
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Loop:
    """Dispatches readiness events to handlers and runs due timers, in one thread."""

    def __init__(self, *, clock=monotonic_ms, poller=None):
        self.clock = clock
        self._poll = poller if poller is not None else select.poll()
        self._handlers = {}
        self._timers = []
        self._seq = 0
        self._soon = []
        self._wake = None
        self.running = False

    # -- readiness ---------------------------------------------------------------------------

    def register(self, obj, events, handler):
        """Call `handler(events)` whenever `obj` is ready for any of `events`."""
        self._poll.register(obj, events)
        self._handlers[obj] = handler
        fd = _fileno(obj)
        if fd is not None:
            self._handlers[fd] = handler

    def modify(self, obj, events):
        self._poll.modify(obj, events)

    def unregister(self, obj):
        """Forget `obj`; safe to call twice."""
        if self._handlers.pop(obj, None) is None:
            return
        fd = _fileno(obj)
        if fd is not None:
            self._handlers.pop(fd, None)
        try:
            self._poll.unregister(obj)
        except (OSError, KeyError, ValueError):
            pass  # already closed

    # -- timers --------------------------------------------------------------------------------

    def call_later(self, delay_ms, callback):
        """Run `callback()` once, `delay_ms` from now; returns a cancellable Timer."""
        timer = Timer(self.clock() + max(0, delay_ms), callback)
        self._seq += 1
        heapq.heappush(self._timers, (timer.deadline, self._seq, timer))
        return timer

    def call_soon_threadsafe(self, callback):
        """From any thread: run `callback()` in the loop's thread as soon as possible."""
        self._soon.append(callback)
        if self._wake is not None:
            try:
                self._wake[1].send(b"\0")
            except OSError:
                pass  # the pipe is full: the loop is already going to wake up

    def enable_wakeup(self):
        """Create the wake-up socket pair (only runtimes with threads need it)."""
        if self._wake is None:
            pair = socketpair()
            if pair is None:
                return False
            for sock in pair:
                sock.setblocking(False)
            self._wake = pair
            self.register(pair[0], POLLIN, self._drain_wakeups)
        return True

    def _drain_wakeups(self, events):
        try:
            while self._wake[0].recv(512):
                pass
        except OSError:
            pass

    # -- running -------------------------------------------------------------------------------

    def next_timeout(self, max_wait_ms=None):
        """Milliseconds poll() may wait: until the next timer, capped by `max_wait_ms`."""
        if self._soon:
            return 0
        wait = -1 if max_wait_ms is None else max_wait_ms
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        if self._timers:
            until = max(0, self._timers[0][0] - self.clock())
            wait = until if wait < 0 else min(wait, until)
        return wait

    def run_once(self, max_wait_ms=None):
        """Wait for readiness or the next timer, then dispatch everything that is due."""
        for key, events in self._poll.poll(self.next_timeout(max_wait_ms)):
            handler = self._handlers.get(key)
            if handler is not None:
                self._call(handler, events)
        while self._soon:
            self._call(self._soon.pop(0))
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)[2]
            if not timer.cancelled:
                self._call(timer.callback)

    def _call(self, callback, *args):
        # One failing handler must not take the loop, and every other client, down with it.
        try:
            callback(*args)
        except Exception as exc:
            log.error("loop callback failed: %r", exc)
            print_exception(exc)

    def run(self):
        """Run until `stop()`."""
        self.running = True
        while self.running:
            self.run_once()

    def stop(self):
        self.running = False

    def close(self):
        if self._wake is not None:
            self.unregister(self._wake[0])
            for sock in self._wake:
                sock.close()
            self._wake = None


def _fileno(obj):
    fileno = getattr(obj, "fileno", None)
    if fileno is None:
        return None
    try:
        return fileno()
    except (OSError, ValueError):
        return None
