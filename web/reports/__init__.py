"""A finished session's report (JSON and PDF) and the PDF drawing shared with the recruiter's review."""
