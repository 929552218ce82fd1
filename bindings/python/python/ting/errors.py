"""The one exception the package raises, with a stable code."""


class TingError(Exception):
    """A Ting operation failed.

    ``code`` is stable and machine-readable: the same codes the node's HTTP
    API, the ledger and the ``ting`` CLI use (``insufficient_funds``,
    ``bad_account``, ``unreachable``, ...). ``message`` says what was wrong
    in words.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
