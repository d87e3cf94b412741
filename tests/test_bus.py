"""agent.bus: property instances are Initialized, then Changed, then Deleted (checklist 10.5)."""

import unittest

from agent.bus import EventBus


class EventBusTest(unittest.TestCase):
    def setUp(self):
        self.bus = EventBus(lambda: 1700000000)
        self.seen = []
        self.bus.listen(self.seen.append)

    def summary(self):
        return [(m.topic, m.operation, m.source, m.data) for m in self.seen]

    def test_property_life_cycle(self):
        source = [("InputToken", "IN1")]
        self.bus.set_property("Device/Trigger/DigitalInput", source, [("LogicalState", "false")])
        self.bus.set_property("Device/Trigger/DigitalInput", source, [("LogicalState", "true")])
        self.bus.delete("Device/Trigger/DigitalInput", source)
        self.bus.delete("Device/Trigger/DigitalInput", source)  # already gone: nothing
        key = ("InputToken", "IN1")
        self.assertEqual(self.summary(), [
            ("Device/Trigger/DigitalInput", "Initialized", (key,), (("LogicalState", "false"),)),
            ("Device/Trigger/DigitalInput", "Changed", (key,), (("LogicalState", "true"),)),
            ("Device/Trigger/DigitalInput", "Deleted", (key,), (("LogicalState", "true"),)),
        ])
        self.assertEqual(self.seen[0].time, 1700000000)

    def test_instances_keep_their_order_and_latest_value(self):
        for token in ("R2", "R1", "R3"):
            self.bus.set_property("Device/Trigger/Relay", [("RelayToken", token)],
                                  [("LogicalState", "inactive")])
        self.bus.set_property("Device/Trigger/Relay", [("RelayToken", "R1")],
                              [("LogicalState", "active")])
        self.bus.delete("Device/Trigger/Relay", [("RelayToken", "R3")])
        self.assertEqual([(m.source[0][1], m.data[0][1]) for m in self.bus.instances()],
                         [("R2", "inactive"), ("R1", "active")])

    def test_plain_events_have_no_operation_and_listeners_can_leave(self):
        self.bus.publish("Monitoring/ProcessorUsage", [], [("Value", "12.5")])
        self.bus.unlisten(self.seen.append)
        self.bus.publish("Monitoring/ProcessorUsage", [], [("Value", "13")])
        self.assertEqual(self.summary(), [("Monitoring/ProcessorUsage", None, (),
                                           (("Value", "12.5"),))])
        self.assertEqual(self.bus.instances(), [])
