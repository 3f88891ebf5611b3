CREATE TABLE k_mig_tags (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL);
CREATE INDEX k_mig_tags_label ON k_mig_tags (label);
