"""Take-home labels: what a label says (pure, `content.py`), the record of every label and print
job, printing after the dose has committed, and reprints.

Invariants: a label is never printed inside the dispensing transaction (running out of paper
must not undo a supply); every label and reprint is kept (`labels` is append-only); a print job
that fails stays visible and can be reprinted; a reprint says REPRINT on the label.
"""
