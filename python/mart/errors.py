"""MartError: a failed MART call, with its status and MART's full message."""
import enum

from ._lib import lib


class Status(enum.IntEnum):
    """mart_status of include/mart/mart.h."""
    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_HANDLE = 2
    CONFIG = 3
    IO = 4
    OUT_OF_MEMORY = 5
    BUSY = 6
    NOT_FOUND = 7
    NUMERIC = 8
    INTERNAL = 9


class MartError(Exception):
    """A MART call failed. `status` is a Status (or the raw int for a code newer than this
    package); `message` is MART's full text (what went wrong, where, and the fix)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self):
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        return "[%s] %s" % (name, self.message)


def check(status):
    """Raises MartError for a non-OK status, with mart_last_error()'s message."""
    if status == 0:
        return
    try:
        st = Status(status)
    except ValueError:
        st = int(status)
    raw = lib.mart_last_error()
    message = raw.decode("utf-8", "replace") if raw else ""
    if not message:
        message = lib.mart_status_string(status).decode("utf-8", "replace")
    raise MartError(st, message)
