"""Subcommands of the ``netstack`` CLI, one module each (see ``netstack.cli``)."""
