"""The benchmark product served bare: its own Flask app under gunicorn, with no portal code in
the request path. `gate_overhead.py` serves it as
`gunicorn -c gunicorn.conf.py benchmarks.gate_bare_app:application`, so both sides share the
gunicorn settings; the product file is read from `PORTAL_APPS_DIR`, the folder the portal side
mounts it from, so both sides run the very same view.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_source = Path(os.environ["PORTAL_APPS_DIR"]) / "stable" / "bench" / "__init__.py"
_spec = importlib.util.spec_from_file_location("gate_bench_product", _source)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

application = _module.app
print(f"bare product ready: pid {os.getpid()}", file=sys.stderr, flush=True)
