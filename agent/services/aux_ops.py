"""SendAuxiliaryCommand (checklist 8.6, 8.2.1 Misc AuxiliaryCommands, issue 8).

A mixin of agent.services.device.DeviceService. The commands are the board file's
"auxiliary_commands" (checked by agent.board): each sets one relay through agent.deviceio, so
the relay's property event reports it like any SetRelayOutputState. A board without commands
has no auxiliary capability: the operation then answers ActionNotSupported, never a fake
success.
"""

from ..soap import SoapFault, sender
from . import TT, required
from .deviceio import TDS, empty_response

# tt:AuxiliaryData is at most 128 characters (checklist 8.6 SendAuxiliaryCommand); agent.board
# holds a board file's commands to it.
MAX_AUXILIARY_COMMAND = 128


class AuxiliaryOperations:
    """SendAuxiliaryCommand and the capability parts that list its commands."""

    def auxiliary_commands(self):
        """The board's command entries, in file order."""
        return self.device.board.get("auxiliary_commands") or ()

    def write_misc_capabilities(self, w):
        """tds:Misc (8.2.1), only with commands: AuxiliaryCommands is a tt:StringAttrList."""
        commands = [entry["command"] for entry in self.auxiliary_commands()]
        if commands:
            w.leaf(TDS, "Misc", attrs=[("AuxiliaryCommands", " ".join(commands))])

    def write_legacy_io_extension(self, w):
        """tt:IOCapabilitiesExtension of GetCapabilities' tt:IO, only with commands."""
        commands = self.auxiliary_commands()
        if commands:
            w.start(TT, "Extension")
            w.leaf(TT, "Auxiliary", True)
            for entry in commands:
                w.leaf(TT, "AuxiliaryCommands", entry["command"])
            w.leaf(TT, "Extension")  # tt:IOCapabilitiesExtension2, required by the schema
            w.end()

    def SendAuxiliaryCommand(self, request, ctx):
        commands = self.auxiliary_commands()
        if not commands:
            raise SoapFault("Receiver", "ActionNotSupported")
        command = required(request, TDS, "AuxiliaryCommand").text or ""
        if len(command) > MAX_AUXILIARY_COMMAND:  # tt:AuxiliaryData
            raise sender("InvalidArgVal", reason="AuxiliaryCommand is longer than %d characters"
                         % MAX_AUXILIARY_COMMAND)
        for entry in commands:
            if entry["command"] == command:
                _run(self.device.io, entry)
                return empty_response(TDS, "SendAuxiliaryCommandResponse")
        raise sender("InvalidArgVal", "AuxiliaryDataNotSupported",
                     reason="unknown auxiliary command")


def _run(io, entry):
    """Set the entry's relay; a pulse falls back to inactive after pulse_ms, on the relay's own
    timer, so the next command on that relay (this or SetRelayOutputState) cancels it, as it
    cancels a monostable fall-back."""
    io.set_relay_state(entry["relay"], entry["state"], pulse_ms=entry.get("pulse_ms"))
