"""A classroom of simulated devices: many on one machine (``runner``), and the instructor's view of every device
seen on a broker (``watcher``).

- ``shared_source``: one decoder for a file (or camera) that several devices play, each reading the newest frame.
- ``thumbnail``: a small live JPEG of a device on ``deeplens/<thing>/thumbnail``, once a second.
- ``info``: where a device's viewer is, its profile, project and rates, retained on ``deeplens/<thing>/info``.
- ``watcher``: ``FleetWatcher`` keeps, per thing seen on any broker, its latest result, rate, Lambda state and
  thumbnail; ``snapshot()`` is what the ``/fleet`` page and the window's Fleet tab show.
- ``capacity``: whether a device keeps up with its profile's rate, and how many this machine sustains.
- ``runner``: ``Fleet`` runs N devices in one process on one broker, with one web viewer each and the
  ``/fleet`` page (``python main.py fleet``).
"""
