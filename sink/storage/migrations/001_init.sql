-- Messages as received, with the fields the API filters and shows.
-- seq is the rowid (cheap joins, FTS rowid); id is the ULID the API speaks.
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  received_at INTEGER NOT NULL,          -- ms since epoch
  envelope_from TEXT NOT NULL,
  envelope_to TEXT NOT NULL,             -- JSON array, RCPT TO order
  remote_ip TEXT NOT NULL,
  helo_name TEXT NOT NULL,
  tls INTEGER NOT NULL,
  auth_user TEXT,
  size INTEGER NOT NULL,
  raw BLOB NOT NULL,                     -- exactly the bytes received after DATA
  from_json TEXT,                        -- {address,name} or NULL
  to_json TEXT NOT NULL,
  cc_json TEXT NOT NULL,
  subject TEXT NOT NULL,
  subject_lc TEXT NOT NULL,              -- lower-cased for substring filters
  snippet TEXT NOT NULL,
  message_id TEXT,
  date TEXT,
  headers_json TEXT NOT NULL,
  text TEXT,
  html TEXT,
  attachments_json TEXT NOT NULL
);
CREATE INDEX messages_received_at ON messages (received_at);

-- Every address a message was sent from or to (envelope and headers), for
-- the to=/from= filters. rdomain is the domain with its labels reversed and a
-- trailing dot ("com.example.api."), so "@example.com" and its subdomains are
-- one index range.
CREATE TABLE addresses (
  seq INTEGER NOT NULL,
  kind INTEGER NOT NULL,                 -- 0 = to/cc/rcpt, 1 = from/mail-from
  address TEXT NOT NULL,                 -- lower case
  rdomain TEXT NOT NULL
);
CREATE INDEX addresses_address ON addresses (kind, address, seq);
CREATE INDEX addresses_rdomain ON addresses (kind, rdomain, seq);
CREATE INDEX addresses_seq ON addresses (seq);

-- Full-text index for q=: subject, addresses and the start of the text body.
CREATE VIRTUAL TABLE messages_fts USING fts5 (subject, addresses, body, tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER messages_after_delete AFTER DELETE ON messages BEGIN
  DELETE FROM addresses WHERE seq = old.seq;
  DELETE FROM messages_fts WHERE rowid = old.seq;
END;
