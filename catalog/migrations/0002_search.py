"""PostgreSQL full-text and typo-tolerant search; nothing to do on SQLite.

A trigger keeps `search_vector` (title weighted A, brand B, description C) current on every
insert and on any update that touches those columns, bulk writes included; a GIN index serves
`@@`, and a trigram GIN index on the title serves the typo-tolerant `%>` match.
"""

from django.db import migrations

FORWARD = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE OR REPLACE FUNCTION catalog_product_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.brand, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_product_search_vector
    BEFORE INSERT OR UPDATE OF title, brand, description, search_vector ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector();

UPDATE catalog_product SET search_vector = NULL;

CREATE INDEX product_search_vector ON catalog_product USING gin (search_vector);
CREATE INDEX product_title_trigram ON catalog_product USING gin (title gin_trgm_ops);
"""

BACKWARD = """
DROP INDEX IF EXISTS product_title_trigram;
DROP INDEX IF EXISTS product_search_vector;
DROP TRIGGER IF EXISTS catalog_product_search_vector ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_vector();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
