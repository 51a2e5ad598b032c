-- Answers still to write back to the EHR their visits came from: the
-- write-back scan reads this index, not the organization's whole history.
CREATE INDEX visit_answers_to_write_back ON visit_answers(organization_id, answered_at, id)
    WHERE written_back_at IS NULL;
