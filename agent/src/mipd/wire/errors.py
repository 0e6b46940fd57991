"""The codec's one error type."""


class WireError(ValueError):
    """Bytes that are not a valid message: says what is wrong and at which offset.

    Decoders raise nothing else, whatever bytes they are given.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"offset {offset}: {reason}")
        self.reason = reason
        self.offset = offset


class UnknownExtensionError(WireError):
    """A non-skippable extension (type 0-127) that we do not recognise (RFC 5944 §1.9).

    The whole message MUST be silently discarded; the type is kept so it can be counted.
    """

    def __init__(self, ext_type: int, offset: int) -> None:
        super().__init__(f"unrecognised non-skippable extension type {ext_type}", offset)
        self.ext_type = ext_type
