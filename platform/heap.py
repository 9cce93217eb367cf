"""The garbage collector in long-running processes (`kiunga serve`, `kiunga worker`).

A full collection walks every object the process holds, and most of them are built once at
start-up and live for ever: the imported modules, the SQLAlchemy mappers and tables of every
area, the routes, the templates. Measured under the USSD benchmark, such a collection
stopped `kiunga serve` for 300–700 ms now and then, which was the whole of its p99. Once
start-up is over those objects are moved out of the collector's sight (`gc.freeze`), so
later collections walk only what requests and jobs made.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect what start-up left over, then keep every surviving object out of later
    collections. Call once, when the process is ready to serve."""
    gc.collect()
    gc.freeze()
