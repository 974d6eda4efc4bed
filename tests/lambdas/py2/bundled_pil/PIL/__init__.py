# A Python 2 build of PIL 1.1.7 as bundled in old Lambda zips (a stand-in: it cannot load on Python 3).
VERSION = "1.1.7"
print "PIL", VERSION
