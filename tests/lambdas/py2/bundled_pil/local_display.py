# The 2018 LocalDisplay helper, Python 2.7: sizes from a resolution name.
RESOLUTION = {'1080p': (1920, 1080), '720p': (1280, 720), '480p': (858, 480)}


class LocalDisplay(object):
    def __init__(self, resolution):
        if not RESOLUTION.has_key(resolution):
            raise Exception, "Invalid resolution"
        self.resolution = RESOLUTION[resolution]

    def centre(self):
        width, height = self.resolution
        return [width / 2, height / 2]
