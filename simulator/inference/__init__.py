"""Inference: OpenVINO adapter, model store, substitutes for the device's lost models, result parsing."""
