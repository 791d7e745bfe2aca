"""Review cases: items from verdicts, scans and reports; grading; four-eyes decisions."""
