"""`python -m tinygrad_rnn` runs the `tinygrad-rnn` command."""
import sys

from tinygrad_rnn.cli import main

sys.exit(main())
