import sys

from rosetta.cli import main

sys.exit(main())
