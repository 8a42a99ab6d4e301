import os
import sys

# quiet LLaMA-Factory in the benchmark process only (set before it is first imported)
os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "WARN")

from bench.suite import main

sys.exit(main())
