ALTER TABLE runners DROP COLUMN total_reviews;
DROP TABLE reviews;
