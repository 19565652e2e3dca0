import sys

from storeflows_cli.cli import main

sys.exit(main())
