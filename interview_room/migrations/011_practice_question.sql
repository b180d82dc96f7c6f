-- An optional practice question per interview (issue 17): the candidate may answer it before the first
-- real question and watch the take; it is not scored and the recruiter never sees it as an answer.
-- Its attempts are candidate_answers rows with question_idx = -1 (recorded, counted and erased like the
-- others; every recruiter query reads question_idx >= 0 only).
ALTER TABLE interviews ADD COLUMN practice_question text NOT NULL DEFAULT '';
