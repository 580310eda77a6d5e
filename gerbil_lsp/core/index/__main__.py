"""``python -m gerbil_lsp.core.index --bundle``: regenerate the bundled index (see build.main)."""

import sys

from gerbil_lsp.core.index.build import main

sys.exit(main())
