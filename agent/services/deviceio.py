"""DeviceIO service (tmd, checklist clause 9).

For now only its capabilities are implemented, and they say so: zero relays, inputs and serial
ports until the hardware abstraction lands (issue 6); every other operation is answered with
ActionNotSupported by the dispatcher.
"""

from . import TT, Service

TMD = "http://www.onvif.org/ver10/deviceIO/wsdl"


class DeviceIOService(Service):
    key = "deviceio"
    path = "/onvif/deviceio_service"
    namespace = TMD
    declare = (TMD, TT)
    category = "Extension"  # GetCapabilities reports it under tt:Extension/tt:DeviceIO

    def counts(self):
        """(VideoSources, VideoOutputs, AudioSources, AudioOutputs, RelayOutputs, SerialPorts,
        DigitalInputs): static, and equal to the lengths of the lists returned (9.5)."""
        return (0, 0, 0, 0, 0, 0, 0)

    def write_capabilities(self, w):
        vs, vo, as_, ao, relays, serial, inputs = self.counts()
        w.leaf(TMD, "Capabilities", attrs=[
            ("VideoSources", vs), ("VideoOutputs", vo), ("AudioSources", as_),
            ("AudioOutputs", ao), ("RelayOutputs", relays), ("SerialPorts", serial),
            ("DigitalInputs", inputs), ("DigitalInputOptions", False)])

    def write_legacy_capabilities(self, w, ctx):
        vs, vo, as_, ao, relays = self.counts()[:5]
        w.start(TT, "DeviceIO")
        w.leaf(TT, "XAddr", ctx.url(self.path))
        w.leaf(TT, "VideoSources", vs)
        w.leaf(TT, "VideoOutputs", vo)
        w.leaf(TT, "AudioSources", as_)
        w.leaf(TT, "AudioOutputs", ao)
        w.leaf(TT, "RelayOutputs", relays)
        w.end()
