"""The desktop window (PySide6). All Qt code of the simulator lives in this package.

The core (``simulator``) never imports from here: ``gui`` drives a ``SimulatedDevice`` through
``controller.DeviceController`` (start / stop / deploy on one worker thread, every failure out through its
``error`` signal) and ``workers`` (a frame/status poller thread, thread-safe batching of MQTT messages and Lambda
output); widgets are fed only by signals.

    app.run_gui(config, duration)     the entry point main.py calls
    main_window.MainWindow            pickers, banner, streams, inspector, log, status, latency plot
    screenshots                       python -m gui.screenshots [OUT_DIR]
    gc_guard                          Python's garbage collection on the GUI thread only (Qt objects die there)
"""
