"""The Schedule 2 controlled drugs register: one append-only, hash-chained ledger per pharmacy
and product (MDR 2001 reg 19-20; domain-rules §5).

Invariants:
- Supplies are written from the handover, in the handover's own transaction, never typed: the
  register and the dispensing record cannot disagree.
- Nothing is edited or deleted (database triggers refuse it); a correction is a new dated entry
  naming the original, its author and the reason.
- The running balance is computed by the system at each entry, under the chain's lock, and is
  part of the hashed content, so a changed quantity breaks the chain.
"""
