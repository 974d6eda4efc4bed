# A Lambda that fails at import: it needs the device's own inference engine behind awscam, which the simulator lacks.
import awscamdldt

awscamdldt.init()
