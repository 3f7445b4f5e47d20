import sys

from streams.native.build import main

sys.exit(main())
