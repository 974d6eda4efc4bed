"""Modernising Python 2 source: the exact output of each fixer, the integer-division rule, tabs, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from simulator.errors import LambdaError
from simulator.runtime.py2 import convert_file, convert_source, explain_syntax_error, python2_reason
from simulator.runtime.py2.helpers import cmp, old_div, old_round
from simulator.runtime.py2.tabs import expand_py2_tabs

LAMBDAS = Path(__file__).parent / "lambdas" / "py2"


def convert(source: str, name: str = "lambda_function.py", in_package: bool = False):
    return convert_source(textwrap.dedent(source), name, in_package=in_package)


FIXERS = {
    "print": (
        'print "a", 1\nprint\nprint >>sys.stderr, "x"\nprint "no newline",\n',
        'print("a", 1)\nprint()\nprint("x", file=sys.stderr)\nprint("no newline", end=\' \')\n',
        {"print": 4}),
    "except": (
        "try:\n    pass\nexcept (IOError, OSError), e:\n    pass\n",
        "try:\n    pass\nexcept (IOError, OSError) as e:\n    pass\n",
        {"except": 1}),
    "urllib": (
        'import urllib, urllib2\n'
        'urllib2.urlopen(urllib2.Request("http://a", urllib.urlencode({"a": 1})))\n'
        'urllib.urlretrieve("http://a/b.zip", "b.zip")\n'
        'urllib.urlopen("http://a")\n',
        'import urllib.request, urllib.parse, urllib.error\n'
        'urllib.request.urlopen(urllib.request.Request("http://a", urllib.parse.urlencode({"a": 1})))\n'
        'urllib.request.urlretrieve("http://a/b.zip", "b.zip")\n'
        'urllib.request.urlopen("http://a")\n',
        {"urllib": 7}),
    "dict": (
        'd = {}\nfor k, v in d.iteritems(): pass\nx = d.keys()[0]\ny = d.values()\n'
        'z = list(d.itervalues())\nw = d.has_key("a")\n',
        'd = {}\nfor k, v in d.items(): pass\nx = list(d.keys())[0]\ny = list(d.values())\n'
        'z = list(d.values())\nw = "a" in d\n',
        {"dict": 4, "has_key": 1}),
    "xrange": (
        "for i in xrange(3): pass\nr = range(5)\n",
        "for i in range(3): pass\nr = list(range(5))\n",
        {"xrange": 2}),
    "string": (
        'import string\na = string.letters + string.lowercase + string.uppercase\nb = string.join(words, ", ")\n'
        'c = string.join(words)\nd = string.split(line, ",")\ne = string.atoi("1") + string.atof("2.5")\n'
        'f = string.upper(a + b).strip()\ng = string.maketrans("ab", "cd")\nh = string.digits\n',
        'import string\na = string.ascii_letters + string.ascii_lowercase + string.ascii_uppercase\n'
        'b = ", ".join(words)\nc = " ".join(words)\nd = line.split(",")\ne = int("1") + float("2.5")\n'
        'f = (a + b).upper().strip()\ng = str.maketrans("ab", "cd")\nh = string.digits\n',
        {"string": 10}),
    "types and literals": (
        'a = unicode(x)\nb = isinstance(x, basestring)\nc = long(3) + 5L\nd = 0777\ne = `x`\nf = raw_input("> ")\n',
        'a = str(x)\nb = isinstance(x, str)\nc = int(3) + 5\nd = 0o777\ne = repr(x)\nf = input("> ")\n',
        {"unicode": 1, "basestring": 1, "long": 1, "number literals": 2, "backticks": 1, "raw_input": 1}),
    "map filter zip": (
        "a = map(str, xs)[0]\nb = filter(None, xs)[1:]\nc = zip(a, b)[0]\nfor x in map(str, xs): pass\n",
        "a = list(map(str, xs))[0]\nb = [_f for _f in xs if _f][1:]\nc = list(zip(a, b))[0]\n"
        "for x in map(str, xs): pass\n",
        {"map": 1, "filter": 1, "zip": 1}),
    "sort cmp": (
        "def compare(a, b):\n    return cmp(a.n, b.n)\nxs.sort(compare)\nys = sorted(xs, cmp=compare, reverse=True)\n"
        "zs = sorted(xs, compare)\narr.sort(0)\nxs.sort(lambda a, b: b - a)\n",
        "import functools\nfrom simulator.runtime.py2.helpers import cmp\n"
        "def compare(a, b):\n    return cmp(a.n, b.n)\n"
        "xs.sort(key=functools.cmp_to_key(compare))\n"
        "ys = sorted(xs, key=functools.cmp_to_key(compare), reverse=True)\n"
        "zs = sorted(xs, key=functools.cmp_to_key(compare))\narr.sort(0)\n"
        "xs.sort(key=functools.cmp_to_key(lambda a, b: b - a))\n",
        {"sort cmp": 4, "cmp": 1}),
    "StringIO by use": (
        'import StringIO\nfrom cStringIO import StringIO as CS\nbuf = StringIO.StringIO()\nimage.save(buf, "JPEG")\n'
        'text = StringIO.StringIO()\ntext.write("hello")\nraw = CS(data.read())\n'
        's3.upload_fileobj(CS(), "bucket", "key")\nimg = Image.open(StringIO.StringIO(jpeg.tostring()))\n',
        'import io\nfrom io import StringIO as CS\nbuf = io.BytesIO()\nimage.save(buf, "JPEG")\n'
        'text = io.StringIO()\ntext.write("hello")\nraw = io.BytesIO(data.read())\n'
        's3.upload_fileobj(io.BytesIO(), "bucket", "key")\nimg = Image.open(io.BytesIO(jpeg.tostring()))\n',
        {"StringIO→BytesIO": 4, "imports": 3}),
    "round and file": (
        'a = round(x)\nb = round(y, 2)\nc = file("a.txt").read()\n',
        'from simulator.runtime.py2.helpers import old_round\na = old_round(x)\nb = old_round(y, 2)\n'
        'c = open("a.txt").read()\n',
        {"round": 2, "file": 1}),
    "renamed modules and statements": (
        'import commands, Queue, cPickle, urlparse\nq = Queue.Queue()\no = commands.getoutput("ls")\n'
        'raise ValueError, "bad"\nif a <> b: pass\nexec "x = 1"\nit.next()\nsys.maxint\n',
        'import subprocess, queue, pickle, urllib.parse\nq = queue.Queue()\no = subprocess.getoutput("ls")\n'
        'raise ValueError("bad")\nif a != b: pass\nexec("x = 1")\nnext(it)\nsys.maxsize\n',
        {"imports": 6, "raise": 1, "<>": 1, "exec": 1, "next": 1, "renames": 1}),
}


@pytest.mark.parametrize("name", FIXERS)
def test_each_fixer_gives_exactly_the_expected_python3(name):
    source, expected, counts = FIXERS[name]
    result = convert(source)
    assert result.source == expected
    assert result.counts() == counts
    compile(result.source, name, "exec")


def test_sort_with_both_cmp_and_key_is_left_with_a_note():
    result = convert("print 1\nws = sorted(xs, cmp=compare, key=len)\n")
    assert "sorted(xs, cmp=compare, key=len)" in result.source
    assert result.notes == ("line 2: sort with both cmp= and key= left unchanged",)


def test_builtins_the_module_defines_itself_are_not_touched():
    result = convert("print 1\ndef round(x):\n    return x\nfile = open('a')\ny = round(2.5)\nz = file.read()\n")
    assert "old_round" not in result.source and "y = round(2.5)" in result.source


def test_implicit_relative_import_inside_a_package(tmp_path):
    package = tmp_path / "helpers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "util.py").write_text("def twice(n):\n    return 2 * n\n")
    (package / "fmt.py").write_text("import util\nimport os\n")
    assert python2_reason((package / "fmt.py").read_text(), str(package / "fmt.py")) == \
        "uses Python 2 only: import util (line 1)"
    result = convert_file(package / "fmt.py")
    assert result.source == "from . import util\nimport os\n"
    assert result.counts() == {"relative import": 1}


DIVISION = """\
    W, H = 300, 200
    input_width = 300
    count = 0
    count += 2
    scale = 0.5
    mixed = 1
    mixed = 2.5

    def f(frame, n, items):
        a = frame.shape[0] / input_width
        b = len(items) / 2
        c = int(n) / 3
        d = 7 / 2
        e = count / 2
        f = n / 2
        g = n / 2.0
        h = float(n) / 3
        i = frame.shape[1] // 7 / 2
        j = frame.shape[0] % 7 / 2
        k = mixed / 2
        m = W / 2
        p = n / scale
        q = -7 / 2
        r = (1 + 2) * 4 / 3
        n /= 2
        total = 0
        for i2 in range(4):
            total += i2
        total /= 2
        return a
"""

DIVISION_EXPECTED = """\
from simulator.runtime.py2.helpers import old_div
W, H = 300, 200
input_width = 300
count = 0
count += 2
scale = 0.5
mixed = 1
mixed = 2.5

def f(frame, n, items):
    a = frame.shape[0] // input_width
    b = len(items) // 2
    c = int(n) // 3
    d = 7 // 2
    e = count // 2
    f = old_div(n, 2)
    g = n / 2.0
    h = float(n) / 3
    i = frame.shape[1] // 7 // 2
    j = frame.shape[0] % 7 // 2
    k = old_div(mixed, 2)
    m = old_div(W, 2)
    p = n / scale
    q = -7 // 2
    r = (1 + 2) * 4 // 3
    n = old_div(n, 2)
    total = 0
    for i2 in range(4):
        total += i2
    total //= 2
    return a
"""


def test_integer_division_rule_exact_output():
    result = convert(DIVISION)
    assert result.source == DIVISION_EXPECTED
    details = [c.detail for c in result.changes if c.kind == "division"]
    assert "frame.shape[0] / input_width → frame.shape[0] // input_width (both int)" in details
    assert "n / 2 → old_div(n, 2) (types known only at run time)" in details
    assert "n /= 2 → n = old_div(n, 2) (types known only at run time)" in details
    assert len(details) == 14  # every changed division is reported; the three float ones are left as they are


def test_integer_division_scopes_parameters_and_globals():
    result = convert("""\
        size = 640
        limit = 10
        def g(size):
            return size / 2
        def h():
            return size / 2
        def grow(x):
            global limit
            limit = x
        def k():
            return limit / 2
        print size / 3
        """)
    assert "return old_div(size, 2)" in result.source  # the parameter hides the module's int
    assert "def h():\n    return size // 2" in result.source
    assert "return old_div(limit, 2)" in result.source  # rebound through 'global' with an unknown value
    assert "print(size // 3)" in result.source


def test_python2_float_functions_keep_true_division():
    result = convert("import math\nprint 1\na = math.floor(x) / 2\nb = math.factorial(5) / 2\nc = max(3, 4) / 2\n")
    assert "a = math.floor(x) / 2\nb = old_div(math.factorial(5), 2)\nc = max(3, 4) // 2\n" in result.source


def test_true_division_future_import_leaves_slash_alone():
    result = convert("from __future__ import division\nprint 7 / 2\n")
    assert result.source == "from __future__ import division\nprint(7 / 2)\n"


def test_converted_divisions_compute_what_python2_did():
    namespace: dict = {}
    exec(compile(convert("""\
        rows = 480
        def thirds(values):
            return sum(values) / len(values)
        print "x"
        result = [rows / 7, -rows / 7, thirds([3, 4]), thirds([3.0, 4]), 7 / 2.0, rows * 3 / 8]
        """).source, "division", "exec"), namespace)
    assert namespace["result"] == [68, -69, 3, 3.5, 3.5, 180]
    assert [type(v) for v in namespace["result"]] == [int, int, int, float, float, int]


def test_helpers_behave_as_python2():
    assert (old_div(7, 2), old_div(-7, 2), old_div(7.0, 2), old_div(True, 2)) == (3, -4, 3.5, 0)
    assert old_div(np.int64(7), 2) == 3 and old_div(np.float32(7), 2) == 3.5
    assert old_div(np.array([7, 9]), 2).tolist() == [3, 4]
    assert old_div(np.array([7.0, 9.0]), 2).tolist() == [3.5, 4.5]
    assert (old_round(2.5), old_round(-2.5), old_round(0.125, 2), old_round(2.675, 2)) == (3.0, -3.0, 0.13, 2.67)
    assert type(old_round(7)) is float and old_round(np.float32(0.5)) == 1.0
    assert (cmp(1, 2), cmp(2, 2), cmp("b", "a")) == (-1, 0, 1)


def test_tabs_expand_as_python2_read_them():
    text = 'if x:\n\ty = 1\n        if y:\n\t  \tz = """a\n\tb"""\n'
    expanded, changed = expand_py2_tabs(text)
    assert expanded == 'if x:\n        y = 1\n        if y:\n                z = """a\n\tb"""\n'
    assert changed == (2, 4)


def test_mixed_indentation_file_is_modernised():
    path = LAMBDAS / "tabs_mixed" / "lambda_function.py"
    with pytest.raises(TabError):
        compile(path.read_text(), str(path), "exec")
    result = convert_file(path)
    assert result.counts() == {"tabs": 8, "division": 3, "print": 2}
    assert '\trun it on the device\n"""' in result.source  # the string's own tab is kept
    assert "\n                print(\"large\", total)\n" in result.source


def test_python3_files_are_left_alone():
    path = Path(__file__).parent / "lambdas" / "style2018" / "lambda_function.py"
    assert python2_reason(path.read_text(), str(path)) is None
    result = convert_file(path)
    assert not result.changed and result.changes == ()


def test_python2_is_recognised_even_when_it_compiles():
    assert python2_reason("import StringIO\n") == "uses Python 2 only: import StringIO (line 1)"
    assert python2_reason("x = {}\nfor k in x.iterkeys(): pass\n") == "uses Python 2 only: .iterkeys() (line 2)"
    assert python2_reason("import string\ns = string.join(['a'], '')\n") == \
        "uses Python 2 only: string.join (line 2)"
    assert python2_reason("def xrange(n):\n    return n\nxrange(3)\n") is None
    assert python2_reason('print "x"\n').startswith("not Python 3 (line 1:")


def test_summary_and_diff():
    result = convert('try:\n    print "a"\nexcept Exception, e:\n    print e\n')
    assert result.summary() == "modernised from Python 2: 3 changes (print ×2, except ×1)"
    diff = result.diff("fn.py")
    assert diff.startswith("--- fn.py (Python 2)\n+++ fn.py (modernised)\n")
    assert diff.endswith('@@ -1,4 +1,4 @@\n try:\n-    print "a"\n-except Exception, e:\n-    print e\n'
                         '+    print("a")\n+except Exception as e:\n+    print(e)\n')


def test_neither_python3_nor_python2_names_file_line_and_text():
    path = LAMBDAS / "not_python" / "lambda_function.py"
    with pytest.raises(LambdaError) as info:
        convert_file(path)
    assert str(info.value) == (f"{path}:6: this line is neither Python 3 nor Python 2 that can be modernised: "
                               "def handler(event, context:")


def test_a_line_still_invalid_after_modernising_is_reported():
    with pytest.raises(LambdaError) as info:
        convert('print "a"\nasync = 1\n', name="old.py")
    assert str(info.value) == ("old.py:2: modernised from Python 2, but this line is still not Python 3 "
                               "(invalid syntax): async = 1")


def test_explaining_why_a_lambda_does_not_compile(tmp_path):
    def explain(name: str, text: str):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SyntaxError) as info:
            compile(text, str(path), "exec")
        return explain_syntax_error(path, info.value)

    assert explain("py2.py", 'print "a"\nx = 7 / 2\n') is None  # modernised when it loads
    plain = explain("plain.py", "import awscam\n\ndef infinite_infer_run(:\n    pass\n")
    assert plain.message == f"{tmp_path / 'plain.py'}:3:24: SyntaxError: invalid syntax"
    broken = explain("broken.py", 'import json\nprint "starting"\ndef handler(event, context:\n    return 1\n')
    assert broken.message == (f"{tmp_path / 'broken.py'}:3: this line is neither Python 3 nor Python 2 that can be "
                               "modernised: def handler(event, context:")
