"""``python -m evals.simulate``: the production simulation's command line.

The simulation itself ships with docasset (``docasset.sim.simulation``: the demo runs it); see
its docstring and ``evals/README.md`` for the options and the learning curve it writes.
"""

from __future__ import annotations

import sys

from docasset.sim.simulation import main

if __name__ == "__main__":
    sys.exit(main())
