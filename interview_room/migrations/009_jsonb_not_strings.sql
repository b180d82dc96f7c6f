-- interviews.questions and answer_scores.score were written as JSON text inside jsonb (a jsonb string) by
-- the first recruiter release; the application read them back, but SQL could not look inside (the answer
-- time limit needs questions[n].answer_seconds). Unwrap them into real JSON arrays/objects.
UPDATE interviews SET questions = (questions #>> '{}')::jsonb WHERE jsonb_typeof(questions) = 'string';
UPDATE answer_scores SET score = (score #>> '{}')::jsonb WHERE jsonb_typeof(score) = 'string';
