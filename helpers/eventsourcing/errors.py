"""The two ways a command can be refused: it breaks a business rule, or the stream moved on."""


class DomainError(ValueError):
    """A command that breaks a business rule: nothing is written."""


class ConcurrencyError(Exception):
    """The stream moved on since it was read: reload, re-check the command, retry."""
