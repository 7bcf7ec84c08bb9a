"""Words for people: what the engine says about its events and states, in English and Persian.

The service layer gathers the facts from the event store (``service_layer.timeline``: what
happened, in order; ``service_layer.audit``: an aggregate's state at a moment and what comes
next); this package only puts them into sentences, both languages side by side, so that a
change of wording never touches how the facts are found, and the two languages cannot drift
apart unnoticed.

- ``words``: :class:`Words` (one text in both languages) and how amounts, moments and digits
  are written.
- ``events``: one formatter per event class (``Subscription.GraceStarted`` …), keyed by the
  class itself; the timeline's "what" column. Every event class of every aggregate has one
  (``tests/unit/test_event_words.py``).
- ``explain_text``: why a subscription, invoice, customer or payment is in its state;
  ``explain_decisions`` its sentences that say who decided.
- ``actors``: who caused an event (``domain/actor.py``) in words: the timeline's ``by …``,
  ``explain``'s ``approved by مریم کریمی, finance, 1405/02/10``, one decision in one line.

At run time it imports only ``domain`` (``explain_text`` names the service layer's facts
classes for type checking only): no store, no clock, no I/O.
"""
