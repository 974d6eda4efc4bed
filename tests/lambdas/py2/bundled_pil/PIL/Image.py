# Python 2 PIL's Image module: it needs the Python 2 C extension beside it.
import _imaging as core
