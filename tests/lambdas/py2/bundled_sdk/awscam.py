# A stub of awscam for testing off the device, left in the zip.
raise ImportError, "awscam stub: run on the DeepLens"
