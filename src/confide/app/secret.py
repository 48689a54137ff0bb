"""What joiners must know to join a hosted room: a generated code or a chosen password.

A ``Secret`` is made by the CLI (``Secret.generated`` or
``Secret.from_password``) and kept by the room's policy
(``app.room_policy``), which replaces its code when it retires one. Every
password input goes through ``protocol.codes.secret_bytes``; randomness is
passed in (the CLI passes ``secrets.randbelow``).
"""

from __future__ import annotations

from dataclasses import dataclass

from confide.protocol import codes


@dataclass(slots=True)
class Secret:
    """A generated code (with its nameplate) or a chosen password; the code may be renewed."""

    code: codes.Code | None = None
    password: bytes = b""
    words: int = codes.DEFAULT_WORDS

    @classmethod
    def generated(cls, words: int, randbelow: codes.RandBelow, nameplate: str = "") -> Secret:
        """A fresh code of ``words`` words, on ``nameplate`` (a random one if empty)."""
        secret = cls(words=words)
        secret.code = secret.new_code(randbelow, nameplate)
        return secret

    @classmethod
    def from_password(cls, text: str) -> Secret:
        """A password room: ``text`` normalised as every secret is (``codes.secret_bytes``)."""
        return cls(password=codes.secret_bytes(text))

    @property
    def room(self) -> str:
        """The nameplate joiners must name ("" for a password room)."""
        return self.code.nameplate if self.code else ""

    @property
    def value(self) -> bytes:
        """The CPace password input."""
        return self.code.secret if self.code else self.password

    def new_code(self, randbelow: codes.RandBelow, nameplate: str = "") -> codes.Code:
        """A new code with as many words, on ``nameplate`` (a random one if empty)."""
        plate = nameplate or codes.new_nameplate(randbelow)
        return codes.generate(plate, self.words, randbelow)
