-- Read state (issue 12): set by PATCH /api/v1/messages[/:id], shown as `read`
-- on every summary. New mail is unread. ALTER TABLE ... ADD COLUMN with a
-- constant default rewrites nothing: old rows read the default.
ALTER TABLE messages ADD COLUMN read INTEGER NOT NULL DEFAULT 0;
-- is:unread and "mark all read" look at unread rows only; those are few on a
-- store where people read their mail, so a partial index keeps them cheap.
CREATE INDEX messages_unread ON messages (seq) WHERE read = 0;
