# A module inside a package, written for Python 2: "import util" finds the sibling module.
import util


def describe(n):
    return "%d items" % util.twice(n)
