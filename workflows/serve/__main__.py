import sys

from workflows.serve.command import main

if __name__ == "__main__":
    sys.exit(main())
