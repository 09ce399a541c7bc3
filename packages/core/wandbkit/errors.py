"""Exceptions wandbkit raises for the user to read."""


class WandbkitError(Exception):
    """Base class for wandbkit's own errors."""


class UserError(WandbkitError):
    """A mistake the user can fix (bad argument, unknown run, unreadable file).

    The CLI prints the message on one line and exits with code 2, without a traceback.
    """


class SinkError(WandbkitError):
    """A sink failed and ``WANDBKIT_STRICT=1`` asked for failures to be errors."""


class PluginError(WandbkitError):
    """A plugin failed to load or raised in a hook, under ``WANDBKIT_STRICT=1``."""


class RunFailure(WandbkitError):
    """Raised by a ``wandbkit_run_finishing`` implementation when the run did not end well
    (e.g. its last checkpoint could not be written): the run ends ``failed`` with a non-zero
    exit code in the store and in W&B's exit record, and the message is printed as the reason.
    """
