"""python -m pelastus_hub.cli"""

import sys

from pelastus_hub.cli import main

sys.exit(main())
