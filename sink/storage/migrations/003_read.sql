-- Read state (issue 12) and what the search syntax needs.
--
-- Every column after `raw` costs a walk of raw's overflow pages to read, so a
-- condition on one of them scans the whole store's bytes (seconds at 50,000
-- messages). The read state therefore lives in a table of its own, a row per
-- message marked read (new mail is unread: nothing to write at ingest), and
-- the search terms on later columns get indexes that hold what they test.
CREATE TABLE read_marks (seq INTEGER PRIMARY KEY);
CREATE TRIGGER read_marks_after_delete AFTER DELETE ON messages BEGIN
  DELETE FROM read_marks WHERE seq = old.seq;
END;
-- subject: (as subject=): a substring test over this index instead of the rows
CREATE INDEX messages_subject_lc ON messages (subject_lc);
-- has:attachment and cc: only have entries for the messages that have one
CREATE INDEX messages_with_attachments ON messages (seq) WHERE attachments_json <> '[]';
CREATE INDEX messages_with_cc ON messages (cc_json) WHERE cc_json <> '[]';
