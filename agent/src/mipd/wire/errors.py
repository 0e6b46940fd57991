"""The codec's one error type."""


class WireError(ValueError):
    """Bytes that are not a valid message: says what is wrong and at which offset.

    Decoders raise nothing else, whatever bytes they are given. `counter` names the discard
    counter the agents count it under.
    """

    counter = "discard.malformed"

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"offset {offset}: {reason}")
        self.reason = reason
        self.offset = offset


class UnknownExtensionError(WireError):
    """A non-skippable extension (type 0-127) that we do not recognise (RFC 5944 §1.9).

    The whole message MUST be silently discarded; the type is kept so it can be counted.
    """

    counter = "discard.unknown_extension"

    def __init__(self, ext_type: int, offset: int) -> None:
        super().__init__(f"unrecognised non-skippable extension type {ext_type}", offset)
        self.ext_type = ext_type


class TooManyExtensionsError(WireError):
    """More extensions than the decoder was told to read (a bound on the work an unauthenticated
    sender can cause, RFC 5944 §3.8.2.1): the message is discarded, and counted."""

    counter = "discard.too_many_extensions"

    def __init__(self, limit: int, offset: int) -> None:
        super().__init__(f"more than {limit} extensions", offset)
        self.limit = limit
