-- An e-mail address is verified (a one-time code sent to it was entered) before the account may do more
-- than look around. Accounts from before this migration are unverified too: anyone could have registered
-- them with someone else's address; their owners verify with one code.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
