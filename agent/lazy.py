"""Parts of the agent made only when first used (issue 9): on a board every module imported is
bytecode held in RAM, so what most devices never need is not imported at start."""


class OnFirstUse:
    """Stands for the object `make()` returns, made the first time one of its attributes is
    used: the Notify sender at the first push subscription (most devices are only pulled from),
    the NTP client when the clock first goes into NTP mode."""

    def __init__(self, make):
        self.make = make
        self.made = None

    def get(self):
        if self.made is None:
            self.made = self.make()
        return self.made

    def __getattr__(self, name):
        return getattr(self.get(), name)
