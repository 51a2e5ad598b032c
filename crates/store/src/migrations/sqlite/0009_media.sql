-- Media sent with a message (MMS by text, links in an email): HTTPS URLs,
-- one per line.

ALTER TABLE messages ADD COLUMN media TEXT;
