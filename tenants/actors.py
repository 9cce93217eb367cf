"""Who did something: recorded beside every status change, ledger entry and document."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    # "staff", "api_key", "system", "import" or "subscriber"
    kind: str
    label: str
    # platform.staff_accounts.id when a staff member acted
    staff_id: int | None = None

    @classmethod
    def staff(cls, staff_id: int, email: str) -> Actor:
        return cls("staff", email, staff_id)

    @classmethod
    def api_key(cls, prefix: str) -> Actor:
        return cls("api_key", f"api_key:{prefix}")

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls("system", what)


SYSTEM = Actor.system()
