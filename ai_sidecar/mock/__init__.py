"""Mock interviews: the interviewer's plan, its turn-taking state machine and the final report."""
