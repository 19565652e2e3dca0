"""`storeflows`: the admin command line (stores, workflows, messages, contacts, coupons).

Installed as a console script (`pip install -e .`, which `make` runs), the CLI starts from
any directory: like the Makefile's PYTHONPATH, it finds the layer's `storeflows` package and
the local tooling (`storeflows_local`) in this checkout. They are appended, so a PYTHONPATH
(pytest's, the Makefile's) still comes first."""

import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]
for _path in (_CHECKOUT / "layers" / "storeflows", _CHECKOUT / "local"):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))
