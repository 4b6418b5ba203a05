"""Exceptions a user can meet; the CLI prints them as one line (no traceback)."""


class HadTrackerError(Exception):
    """Base class: a problem with the user's input or environment, with a message that says what to do."""


class BagError(HadTrackerError):
    """A bag is missing, empty, corrupt, or lacks a requested topic."""


class MessageTypeError(HadTrackerError):
    """A message type is unknown, or a .msg definition is malformed."""


class DecodeError(HadTrackerError):
    """Event payload that cannot be decoded (unknown encoding, truncated packet)."""


class ConfigError(HadTrackerError):
    """An invalid configuration value or file."""


class CheckpointError(HadTrackerError):
    """A missing, corrupt, truncated or wrong-kind checkpoint."""
