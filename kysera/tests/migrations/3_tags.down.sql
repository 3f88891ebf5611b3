DROP TABLE k_mig_tags;
