"""The desktop window (PySide6). All Qt code of the simulator lives in this package.

The core (``simulator``) never imports from here: ``gui`` drives a ``SimulatedDevice`` through
``controller.DeviceController`` (lifecycle jobs off the GUI thread) and ``workers`` (frame/status polling,
thread-safe batching of MQTT messages and Lambda lines), and every widget is fed through Qt signals.
"""
