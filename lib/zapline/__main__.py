import sys

from zapline.cli import main

sys.exit(main())
