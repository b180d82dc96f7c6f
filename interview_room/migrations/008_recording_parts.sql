-- A session that moves to another media node (its first node died) records each stretch into its own
-- file; one row per file, written by the media node when that file starts (its first audio frame).
-- offset_s places the part on the session clock (t = offset_s + the file's own time), so playback can
-- join the parts into one timeline the captions line up with (signaling/recordings.py).
CREATE TABLE IF NOT EXISTS recording_parts (
    session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    part integer NOT NULL,                      -- 1, 2, ... in the order the parts started
    path text NOT NULL,
    offset_s double precision NOT NULL,         -- session time of the part's first sample
    started_at timestamptz NOT NULL,            -- wall clock of that sample (the node's clock)
    media_node text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, part),
    UNIQUE (session_id, path)
);
