-- The compose file's PostgreSQL, first start only (docker-entrypoint-initdb.d): besides the back office's
-- database (POSTGRES_DB), Rasa's tracker store and the demo company systems' database, owned by the same role.
CREATE DATABASE rasa;
CREATE DATABASE companysystems;
