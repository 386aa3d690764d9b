"""Viewer state: where a user is in a file, per device. `validation` checks a position (PDF
view, image view, EPUB Readium locator) and its progress; `services` writes it with the rule
that a position never silently jumps back; `selectors` reads the document PUT and GET exchange;
`positions` maps KOReader's kosync positions to ours and back."""
