import sys

from workflows.scan.command import main

if __name__ == "__main__":
    sys.exit(main())
