"""`python -m backend.graphiql collect|check` (see backend/graphiql/__init__.py)."""

import sys

from backend.graphiql import main

sys.exit(main())
