"""The one exception type for bad input: a message saying what was expected and where."""


class VPRInputError(ValueError):
    """Bad user input (paths, file names, images, params). The message is meant for the user."""
