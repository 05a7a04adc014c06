"""Long-acting buprenorphine injections (issue 20 §3): a course per patient, the log of each
dose given (here or at the drug service's clinic), the next due date and the overdue alert that
close of day raises by itself (`overdue.py`, answering `app.dosing.events.DayClosed`).

Invariants:
- Courses, their stops and administrations are append-only (database triggers); a course is
  stopped by a new row with who, when and why, never edited.
- The next dose is due one interval after the last one given (the first on the day the course
  starts); it is overdue once its window has passed with no dose recorded.
- One overdue alert per overdue dose, to the prescriber and the key worker, however many
  evenings pass before it is given.
"""
