-- What a template's call says (a call is not a text: no "reply STOP");
-- NULL: the call says the text.

ALTER TABLE message_templates ADD COLUMN voice_text TEXT;
