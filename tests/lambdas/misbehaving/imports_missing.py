# A Lambda that fails at import: it needs a module nobody installed.
import json

import no_such_module_xyz

print(json.dumps(no_such_module_xyz.VERSION))
