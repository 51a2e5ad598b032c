-- When a message's hand-off crossed its point of no return (the request or
-- the email's content that may reach the provider), recorded just before:
-- after a crash, a message in 'sending' without it had not left and is sent
-- again; one with it is in doubt until its provider is asked.
ALTER TABLE messages ADD COLUMN handed_at INTEGER;
-- Hand-offs unsettled before this column existed may have left.
UPDATE messages SET handed_at = sending_at WHERE state IN ('sending', 'in_doubt');
