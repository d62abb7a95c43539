"""The ``partpose`` command line."""
