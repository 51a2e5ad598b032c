-- An organization's own sending window (`HH:MM-HH:MM`, inside 08:00-21:00),
-- narrowing the default for every message it sends; NULL: the default.

ALTER TABLE organizations ADD COLUMN sending_window TEXT;
