-- Name search sorts only ids: the name indexes carry the id and deleted_at,
-- so the scan of a name range never reads the table (a covering index).
DROP INDEX patients_by_family;
DROP INDEX patients_by_given;
CREATE INDEX patients_by_family ON patients(organization_id, family_key, id, deleted_at);
CREATE INDEX patients_by_given ON patients(organization_id, given_key, id, deleted_at);
