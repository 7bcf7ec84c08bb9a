"""The four-eyes rule: money decisions that one person must not take alone (docs/SECURITY.md).

Off by default; an operator turns it on with ``BILLING_FOUR_EYES=1``. Then:

- a bank receipt is not confirmed by the person who approved its offline payment request;
- an invoice whose total is above ``BILLING_FOUR_EYES_VOID_ABOVE`` rials is voided by two
  people: the first proposes the void (``VoidProposed``), a second carries it out.

People are told apart by the actor recorded on the events (domain/actor.py): the same kind and
id is the same person. A decision recorded before actors were kept (actor unknown) names
nobody, so it never blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.actor import Actor, ActorKind
from domain.errors import FourEyesRequired
from domain.money import Money


@dataclass(frozen=True)
class FourEyes:
    enabled: bool = False
    #: Voids of invoices whose total is above this many rials need two people.
    void_above: int = 0

    def void_needs_two(self, invoice_total: Money) -> bool:
        return self.enabled and invoice_total.rials > self.void_above

    def check_second_person(self, first: Actor, second: Actor, rule: str) -> None:
        """Refuse when ``second`` is the person who took the first step (``rule`` says which
        step, in words for the error message)."""
        if self.enabled and same_person(first, second):
            raise FourEyesRequired(
                f"Four-eyes rule (BILLING_FOUR_EYES): {rule}. {first.english()} took the first "
                "step, so another finance person or admin must take this one.",
                rule=rule,
                first=first.to_dict(),
            )


def same_person(first: Actor, second: Actor) -> bool:
    return (
        first.kind is not ActorKind.UNKNOWN
        and first.id is not None
        and (first.kind, first.id) == (second.kind, second.id)
    )
