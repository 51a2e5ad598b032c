-- Name search sorts only ids: the name indexes carry the id and skip deleted patients.
DROP INDEX patients_by_family;
DROP INDEX patients_by_given;
CREATE INDEX patients_by_family ON patients(organization_id, family_key, id) WHERE deleted_at IS NULL;
CREATE INDEX patients_by_given ON patients(organization_id, given_key, id) WHERE deleted_at IS NULL;
