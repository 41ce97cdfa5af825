"""Errors that deepqa reports to the user as a message, never as a traceback."""


class DeepQAError(Exception):
    """Base class of every error whose message alone tells the user what to fix."""


class ConfigError(DeepQAError):
    """A configuration file, profile or ``--set`` override is invalid."""


class CorpusError(DeepQAError):
    """A corpus file is missing, unreadable, in the wrong encoding or wholly malformed."""


class DatasetError(DeepQAError):
    """A prepared dataset folder is missing, incomplete or inconsistent."""


class TrainingError(DeepQAError):
    """Training had to stop (for example the loss became NaN); the last good state is kept."""
