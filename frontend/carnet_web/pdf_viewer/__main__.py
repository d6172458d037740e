"""`python -m carnet_web.pdf_viewer collect|check|pin` (run from frontend/): see __init__.py."""

import sys

from carnet_web.pdf_viewer import main

sys.exit(main())
