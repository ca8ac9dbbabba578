"""``python -m sessionrec_tf.cli ...`` is the ``sessionrec`` command."""

import sys

from sessionrec_tf.cli import main

sys.exit(main())
