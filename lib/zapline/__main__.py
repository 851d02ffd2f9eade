import sys

from zapline.devtools.cli import main

sys.exit(main())
