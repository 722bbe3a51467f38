"""Deterministic new ids for old ones, so every re-run of an importer lands on the same row."""

import uuid

# Fixed forever: changing it would give every imported row a second id on the next run.
LEGACY_NAMESPACE = uuid.UUID("7d1c3f0e-5b7a-4f6e-9a51-0c8f1b2e4d60")


def legacy_uuid(source_table: str, old_id: object) -> uuid.UUID:
    """A UUID old id is kept as it is (offline clients' local references stay valid); any other
    id (a Firebase uid, an integer, a text key) becomes uuid5 of the table and the id."""
    text = str(old_id).strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.uuid5(LEGACY_NAMESPACE, f"{source_table}:{text}")
