-- a column with a default
ALTER TABLE k_mig_items ADD COLUMN qty BIGINT NOT NULL DEFAULT 0;
