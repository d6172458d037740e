"""`python -m tests.browser.axe check`: exit 1 unless the installed axe-core is the pinned one."""

import sys

from tests.browser.axe import main

sys.exit(main())
