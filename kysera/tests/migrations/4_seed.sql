INSERT INTO k_mig_items (id, name) VALUES (1000, 'seeded; with a semicolon');
