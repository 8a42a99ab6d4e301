import sys

from workflows.scan.command import main

sys.exit(main())
