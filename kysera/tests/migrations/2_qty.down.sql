ALTER TABLE k_mig_items DROP COLUMN qty;
