DROP TABLE k_mig_items;
