-- A patient merged into another (HL7 ADT A40) is deleted softly and names
-- the survivor, so its id keeps resolving to the record that replaced it.
ALTER TABLE patients ADD COLUMN merged_into TEXT;
