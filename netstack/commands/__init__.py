"""Subcommands of the ``netstack`` CLI, one module each (see ``netstack.cli``); ``demo`` keeps its
simulated tour and its step runner in ``demo_sim`` and ``demo_steps``."""
