"""DeepLens simulator: runs unmodified AWS DeepLens inference Lambdas on any camera."""

__version__ = "0.1.0"
